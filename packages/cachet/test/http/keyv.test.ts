import keyvTestSuite from '@keyv/test-suite'
import { createCache as createCacheManager } from 'cache-manager'
import Keyv from 'keyv'
import * as vitest from 'vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKeyvStore } from '../../src/http/keyv.js'
import { type CacheApi, createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let cache: CacheApi

beforeAll(async () => {
  redis = await startRedis()
  cache = createCache({ redis: redis.url, prefix: 'kv', logger: false })
})
afterAll(async () => {
  await cache.close()
  await redis.stop()
})

describe('@keyv/test-suite against createKeyvStore (real Redis)', () => {
  // The suite's own tests: api, values, namespaces. Each store() is a new adapter over one engine.
  keyvTestSuite(vitest as never, Keyv, () => createKeyvStore(cache))
})

describe('createKeyvStore in the tools that take Keyv stores', () => {
  it('stores values in Redis under the cache prefix and the Keyv namespace', async () => {
    const keyv = new Keyv({ store: createKeyvStore(cache), namespace: 'sessions' })
    await keyv.set('abc', { user: 42 }, 60_000)
    expect(await keyv.get('abc')).toEqual({ user: 42 })
    // A second engine on the same Redis (another instance) reads what the first wrote.
    const other = createCache({ redis: redis.url, prefix: 'kv', l1: false, logger: false })
    try {
      expect(await new Keyv({ store: createKeyvStore(other), namespace: 'sessions' }).get('abc')).toEqual({
        user: 42,
      })
      expect(await other.has('sessions:abc')).toBe(true)
    } finally {
      await other.close()
    }
  })

  it('backs cache-manager 7 (what @nestjs/cache-manager uses), ttl included', async () => {
    const manager = createCacheManager({ stores: [new Keyv({ store: createKeyvStore(cache) })] })
    await manager.set('report', { rows: 3 }, 60_000)
    expect(await manager.get('report')).toEqual({ rows: 3 })
    expect(await manager.wrap('wrapped', async () => 'computed', 60_000)).toBe('computed')
    expect(await manager.wrap('wrapped', async () => 'again', 60_000)).toBe('computed')
    await manager.del('report')
    expect(await manager.get('report')).toBeUndefined()
  })

  it('clears only its own namespace', async () => {
    const a = new Keyv({ store: createKeyvStore(cache), namespace: 'a' })
    const b = new Keyv({ store: createKeyvStore(cache), namespace: 'b' })
    await cache.set('unrelated', 'kept')
    await a.set('x', 1)
    await b.set('x', 2)
    await a.clear()
    expect(await a.get('x')).toBeUndefined()
    expect(await b.get('x')).toBe(2)
    expect(await cache.get('unrelated')).toBe('kept')
  })
})
