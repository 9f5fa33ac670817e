import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
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
beforeEach(async () => {
  await raw.flushdb()
})

/** A hash and a stream under the engine's prefix, as another component (or seed system) keeps them. */
async function foreignKeys(): Promise<void> {
  await raw.hset('cache:user:profile:1', { fullName: '"Ada"', __v: '5' })
  await raw.xadd('cache:user:events', '*', 'type', 'x')
}

async function expectForeignKeysIntact(): Promise<void> {
  expect(await raw.type('cache:user:profile:1')).toBe('hash')
  expect(await raw.hget('cache:user:profile:1', 'fullName')).toBe('"Ada"')
  expect(await raw.type('cache:user:events')).toBe('stream')
}

describe('invalidation never writes a tombstone over a key that is not a string', () => {
  it('a pattern invalidation (HTTP type `user`) leaves hashes and streams alone', async () => {
    const cache = createCache({ redis: redis.url, prefix: 'cache', logger: false, l2: RELAXED_L2 })
    await foreignKeys()
    await cache.set('user:abc', 'cached response')
    expect(await cache.deleteByPattern('user:*')).toBe(1)
    expect(await cache.get('user:abc')).toBeUndefined()
    await expectForeignKeysIntact()
    await cache.close()
  })

  it('a key invalidation of a hash leaves it alone and counts nothing', async () => {
    const cache = createCache({ redis: redis.url, prefix: 'cache', logger: false, l2: RELAXED_L2 })
    await foreignKeys()
    expect(await cache.delete('user:profile:1')).toBe(false)
    expect(await cache.deleteMany(['user:profile:1', 'user:events'])).toBe(0)
    await expectForeignKeysIntact()
    await cache.close()
  })

  it('a tag invalidation whose index names a hash leaves it alone', async () => {
    const cache = createCache({ redis: redis.url, prefix: 'cache', logger: false, l2: RELAXED_L2 })
    await cache.set('report:1', 1, { tags: ['users'] })
    await foreignKeys()
    // The tag index is a zset of full keys; a foreign key that found its way into it is not ours to overwrite.
    await raw.zadd('cache:__tag:{users}', Date.now() + 60_000, 'cache:user:profile:1')
    expect(await cache.invalidateTags(['users'])).toBe(1)
    expect(await cache.get('report:1')).toBeUndefined()
    await expectForeignKeysIntact()
    await cache.close()
  })
})
