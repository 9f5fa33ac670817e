import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineOf } from '../../src/core/engine-of.js'
import { createCache } from '../../src/index.js'
import { startChaosProxy } from '../../src/testing/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

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

describe('waiting for another process’s stampede lock', () => {
  it('stops waiting and loads as soon as Redis fails, not after lock.wait', async () => {
    const proxy = await startChaosProxy({ target: { port: redis.port } })
    const cache = createCache({
      redis: proxy.url,
      prefix: 'lw',
      logger: false,
      lock: { ttl: '30s', wait: '5s' },
    })
    try {
      // Another process holds the lock on the key (and never writes it).
      await raw.set('lw:__lock:{lw:report}', 'someone-else', 'PX', 30_000)
      let loads = 0
      const started = performance.now()
      const answer = cache.getOrSet('report', async () => {
        loads++
        return 'loaded here'
      })
      // The caller is now waiting for the holder; then Redis goes away.
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(loads).toBe(0)
      proxy.cut()
      proxy.refuse(true)
      expect(await answer).toBe('loaded here')
      // Bounded by Redis's deadline and a poll, far under lock.wait (5 s).
      expect(performance.now() - started).toBeLessThan(2_500)
      expect(loads).toBe(1)
    } finally {
      proxy.heal()
      await cache.close()
      await proxy.close()
    }
  })

  it('a lock taken by a read the caller stopped waiting for is released, not left held for nobody', async () => {
    const proxy = await startChaosProxy({ target: { port: redis.port } })
    const cache = createCache({
      redis: proxy.url,
      prefix: 'ab',
      logger: false,
      bus: false,
      l1: { invalidation: 'bus' },
      l2: { timeout: '2s' },
      timeouts: { soft: '50ms' },
    })
    try {
      await cache.getOrSet('report', async () => 'first')
      // (its write to Redis runs in the background)
      await expect.poll(() => raw.exists('ab:report')).toBe(1)
      // Redis lost the entry, and the instance's L1 copy became suspect (a bus gap); Redis is now slow.
      await raw.del('ab:report')
      engineOf(cache).onBusGap('test')
      proxy.latency(200)
      // The caller gives Redis the soft timeout, then loads; the read, and the lock it takes, land later.
      expect(await cache.getOrSet('report', async () => 'second')).toBe('second')
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      expect(await raw.exists('ab:__lock:{ab:report}')).toBe(0)
    } finally {
      proxy.heal()
      await cache.close()
      await proxy.close()
    }
  })
})
