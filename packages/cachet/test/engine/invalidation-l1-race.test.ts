import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

let n = 0
const KEYS = 5_000

// An invalidation of many keys takes several round trips; a read issued meanwhile can get a key's old
// value from Redis before its tombstone lands. It may return it (the two are concurrent), but L1 must
// not keep it once the invalidation has resolved.
describe('reads racing an invalidation of many keys', () => {
  for (const [name, invalidate] of [
    ['invalidateTags', (cache: CacheApi) => cache.invalidateTags(['t'])],
    ['deleteByPattern', (cache: CacheApi) => cache.deleteByPattern('k:*')],
  ] as const) {
    it(`${name}: once it has resolved, no old value is served from L1`, async () => {
      // No jitter: entries rewritten during the invalidation then sort after the old ones in the tag's set.
      const cache = createCache({
        redis: redis.url,
        prefix: `race${n++}`,
        logger: false,
        l2: RELAXED_L2,
        jitter: 0,
      })
      const items = Array.from({ length: KEYS }, (_, i) => ({ key: `k:${i}`, value: 'old', tags: ['t'] }))
      for (let i = 0; i < KEYS; i += 1000) await cache.setMany(items.slice(i, i + 1000))
      const load = async () => 'new'
      let done = false
      const invalidation = invalidate(cache).finally(() => {
        done = true
      })
      const racing: Promise<unknown>[] = []
      for (let i = KEYS - 1; !done && i >= 0; i -= 7) {
        racing.push(cache.getOrSet(`k:${i}`, load, { tags: ['t'] }))
        await new Promise((resolve) => setImmediate(resolve))
      }
      await Promise.all([invalidation, ...racing])
      const after = await Promise.all(items.map(({ key }) => cache.getOrSet(key, load, { tags: ['t'] })))
      expect(after.filter((value) => value === 'old')).toEqual([])
      await cache.close()
    })
  }
})
