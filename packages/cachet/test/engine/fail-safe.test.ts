import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let n = 0
function newCache(overrides: Parameters<typeof createCache>[0] = {}) {
  return createCache({
    redis: redis.url,
    prefix: `fs${n++}`,
    logger: false,
    jitter: 0,
    l2: RELAXED_L2,
    ...overrides,
  })
}

describe('stale values: fail-safe, stale-while-revalidate, timeouts', () => {
  it('serves the stale value when the loader fails, and throttles retries (grace backoff)', async () => {
    const cache = newCache({ ttl: 50, grace: '1m', graceBackoff: '10s' })
    await cache.getOrSet('k', async () => 'v1')
    await sleep(80)
    let attempts = 0
    const failing = async () => {
      attempts++
      throw new Error('source down')
    }
    expect(await cache.getOrSet('k', failing)).toBe('v1')
    expect(await cache.getOrSet('k', failing)).toBe('v1')
    expect(await cache.getOrSet('k', failing)).toBe('v1')
    expect(attempts).toBe(1)
    expect(cache.stats().staleHits).toBe(3)
    await cache.close()
  })

  it('throws when the stale value is past its grace', async () => {
    const cache = newCache({ ttl: 30, grace: 30 })
    await cache.getOrSet('k', async () => 'v1')
    await sleep(100)
    await expect(
      cache.getOrSet('k', async () => {
        throw new Error('source down')
      }),
    ).rejects.toThrow('source down')
    await cache.close()
  })

  it('soft timeout: serves stale after it, and the slow loader still updates the cache', async () => {
    const cache = newCache({ ttl: 50, timeouts: { soft: 100, hard: '10s' } })
    await cache.getOrSet('k', async () => 'v1')
    await sleep(80)
    const started = Date.now()
    const value = await cache.getOrSet(
      'k',
      async () => {
        await sleep(3_000)
        return 'v2'
      },
      { ttl: '1m' },
    )
    expect(value).toBe('v1')
    // Served at the 100 ms soft timeout, far before the 3 s loader (the bound leaves a starved
    // machine's late timers room and still fails a call that waited for the loader).
    expect(Date.now() - started).toBeLessThan(2_000)
    await expect.poll(() => cache.get('k'), { timeout: 10_000 }).toBe('v2')
    await cache.close()
  })

  it('soft timeout 0 is stale-while-revalidate: stale at once, one background refresh', async () => {
    const cache = newCache({ ttl: 50, timeouts: { soft: 0 } })
    await cache.getOrSet('k', async () => 'v1')
    await sleep(80)
    let calls = 0
    const loader = async () => {
      calls++
      await sleep(100)
      return 'v2'
    }
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet('k', loader)))
    expect(new Set(answers)).toEqual(new Set(['v1']))
    await expect.poll(() => cache.get('k'), { timeout: 10_000 }).toBe('v2') // the refresh has landed
    expect(calls).toBe(1)
    expect(await cache.getOrSet('k', loader)).toBe('v2')
    expect(calls).toBe(1)
    await cache.close()
  })

  it('hard timeout without a stale value throws LoaderTimeoutError; the loader completes in the background', async () => {
    const cache = newCache({ timeouts: { hard: 100 } })
    await expect(
      cache.getOrSet('slow', async () => {
        await sleep(300)
        return 'late'
      }),
    ).rejects.toMatchObject({ code: 'E_LOADER_TIMEOUT' })
    await expect.poll(() => cache.get('slow'), { timeout: 10_000 }).toBe('late')
    await cache.close()
  })

  it('does not soft-time-out without a stale value', async () => {
    const cache = newCache({ timeouts: { soft: 10, hard: '5s' } })
    const value = await cache.getOrSet('k', async () => {
      await sleep(100)
      return 'fresh'
    })
    expect(value).toBe('fresh')
    await cache.close()
  })
})
