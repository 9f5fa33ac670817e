import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let raw: Redis
beforeAll(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
})
afterAll(async () => {
  raw.disconnect()
  await redis.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let n = 0
function newCache(overrides: Parameters<typeof createCache>[0] = {}) {
  return createCache({ redis: redis.url, prefix: `inv${n++}`, logger: false, l2: RELAXED_L2, ...overrides })
}

describe('invalidation', () => {
  it('invalidates a tag over 10,000 keys: every one misses after, other keys still hit', async () => {
    const cache = newCache({ l1: false })
    const tagged = Array.from({ length: 10_000 }, (_, i) => ({
      key: `report:${i}`,
      value: i,
      tags: ['revenue'],
    }))
    for (let i = 0; i < tagged.length; i += 1000) await cache.setMany(tagged.slice(i, i + 1000))
    await cache.set('other:1', 'keep', { tags: ['users'] })
    expect(await cache.get('report:9999')).toBe(9999)
    expect(await cache.invalidateTags(['revenue'])).toBe(10_000)
    const after = await cache.getMany(tagged.map((item) => item.key))
    expect(after.every((value) => value === undefined)).toBe(true)
    expect(await cache.get('other:1')).toBe('keep')
    await cache.close()
  })

  it('deletes by pattern with SCAN, stays inside the prefix and escapes namespaces', async () => {
    const cache = newCache()
    await raw.set('outside:dashboard:1', 'x')
    await cache.setMany([
      { key: 'dashboard:1', value: 1 },
      { key: 'dashboard:2', value: 2 },
      { key: 'search:1', value: 3 },
    ])
    expect(await cache.countByPattern('dashboard:*')).toMatchObject({ count: 2 })
    expect(await cache.deleteByPattern('dashboard:*')).toBe(2)
    expect(await cache.get('dashboard:1')).toBeUndefined()
    expect(await cache.get('search:1')).toBe(3)
    expect(await raw.get('outside:dashboard:1')).toBe('x')

    // A namespace name is a literal, even with glob characters in it.
    const weird = cache.namespace('a*b')
    await cache.set('axxb:k', 'neighbour')
    await weird.set('k', 1)
    expect(await weird.clear()).toBe(1)
    expect(await cache.get('axxb:k')).toBe('neighbour')
    await cache.close()
  })

  it('reads plain JSON written by the seed system, and can give it a new ttl', async () => {
    const cache = newCache({ prefix: 'legacy' })
    await raw.set('legacy:dashboard:old', '{"total_logs":15847}', 'EX', 300)
    expect(await cache.get('dashboard:old')).toEqual({ total_logs: 15847 })
    expect(await cache.expire('dashboard:old', '1h')).toBe(true)
    expect(await cache.ttl('dashboard:old')).toBeGreaterThan(3_500_000)
    const other = createCache({ redis: redis.url, prefix: 'legacy', l1: false, logger: false })
    expect(await other.get('dashboard:old')).toEqual({ total_logs: 15847 })
    await Promise.all([cache.close(), other.close()])
  })

  it('a long plain-JSON string from the seed system keeps its value through expire() and addTags()', async () => {
    // Its first byte ('"') is also a valid envelope format byte, and its bytes 45-46 read as a section
    // length that fits: the rewrite must encode it again, not copy "a payload" out of it.
    const cache = newCache({ prefix: 'legacylong' })
    const text = 'x'.repeat(40_000)
    await raw.set('legacylong:page:1', JSON.stringify(text), 'EX', 300)
    await raw.set('legacylong:page:2', JSON.stringify(text), 'EX', 300)
    expect(await cache.expire('page:1', '1h')).toBe(true)
    expect(await cache.addTags('page:2', ['pages'])).toBe(true)
    const other = createCache({ redis: redis.url, prefix: 'legacylong', l1: false, logger: false })
    expect(await other.get('page:1')).toBe(text)
    expect(await other.get('page:2')).toBe(text)
    expect(await cache.invalidateTags(['pages'])).toBe(1)
    await Promise.all([cache.close(), other.close()])
  })

  it('pattern deletes leave non-string keys under the prefix alone; clear() removes them', async () => {
    const cache = newCache({ prefix: 'mixed' })
    const errors: string[] = []
    cache.on('error', ({ error }) => errors.push(error.message))
    await raw.hset('mixed:user:profile:1', 'fullName', '"Ada"')
    await raw.hset('mixed:user:profile:2', 'fullName', '"Bob"')
    await cache.set('user:count', 2)
    expect(await cache.deleteByPattern('user:*')).toBe(1) // user:count only
    expect(await raw.type('mixed:user:profile:1')).toBe('hash')
    expect(await raw.hget('mixed:user:profile:2', 'fullName')).toBe('"Bob"')
    await cache.set('user:count', 3)
    expect(await cache.clear()).toBe(3) // user:count and both hashes; tombstones are not counted
    expect(await raw.exists('mixed:user:profile:1', 'mixed:user:profile:2')).toBe(0)
    expect(errors).toEqual([])
    await cache.close()
  })

  it('clear() removes only this prefix, never other data', async () => {
    const cache = newCache()
    await raw.set('bull:job:1', 'queued')
    await cache.setMany([
      { key: 'a', value: 1 },
      { key: '_b', value: 2 },
      { key: '_', value: 3 },
    ])
    expect(await cache.clear()).toBe(3)
    expect(await cache.getMany(['a', '_b', '_'])).toEqual([undefined, undefined, undefined])
    expect(await raw.get('bull:job:1')).toBe('queued')
    await cache.close()
  })

  it('namespaces share the engine; clearing one leaves the others', async () => {
    const cache = newCache()
    const users = cache.namespace('users')
    const orders = cache.namespace('orders')
    await users.set('1', { name: 'Ada' })
    await orders.set('1', { total: 3 })
    expect(await cache.get('users:1')).toEqual({ name: 'Ada' })
    await users.clear()
    expect(await users.get('1')).toBeUndefined()
    expect(await orders.get('1')).toEqual({ total: 3 })
    await cache.close()
  })

  it('a loader that started before an invalidation never writes its older value back', async () => {
    const a = newCache({ prefix: 'ghost' })
    const b = newCache({ prefix: 'ghost' })
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let loading!: () => void
    const loaderRuns = new Promise<void>((resolve) => {
      loading = resolve
    })
    const slow = a.getOrSet('k', async () => {
      loading()
      await gate
      return 'v1 (read before the update)'
    })
    await loaderRuns // the version it may write over is captured by now, however slow the connection
    await b.delete('k') // the source now says v2; the invalidation completes while the loader runs
    release()
    expect(await slow).toBe('v1 (read before the update)')
    await sleep(100)
    expect(await b.get('k')).toBeUndefined()
    expect(await a.getOrSet('k', async () => 'v2')).toBe('v2')
    await Promise.all([a.close(), b.close()])
  })

  it('keeps L1 coherent across instances through the bus', async () => {
    const a = newCache({ prefix: 'bus1' })
    const b = newCache({ prefix: 'bus1' })
    // b's L1 copy goes when a's message arrives: milliseconds, polled here for a loaded machine.
    const eventually = async (expected: unknown) => {
      for (let waited = 0; waited < 3_000 && (await b.get('k')) !== expected; waited += 50) await sleep(50)
      return b.get('k')
    }
    await a.set('k', 'v1')
    expect(await b.get('k')).toBe('v1') // now in b's L1
    await a.set('k', 'v2')
    expect(await eventually('v2')).toBe('v2')
    await a.delete('k')
    expect(await eventually(undefined)).toBeUndefined()
    await Promise.all([a.close(), b.close()])
  })
})
