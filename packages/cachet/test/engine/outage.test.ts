import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createCache, InvalidOptionError, LoaderTimeoutError } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let redis: TestRedis | undefined
afterEach(async () => {
  await redis?.stop()
  redis = undefined
})

let n = 0
function newCache(url: string, overrides: Parameters<typeof createCache>[0] = {}) {
  return createCache({
    redis: url,
    prefix: `out${n}`,
    logger: false,
    jitter: 0,
    l2: { circuitBreaker: { threshold: 3, duration: '1s' } },
    ...overrides,
  })
}

/** Records the bus gaps a cache reports (its L1 entries are then suspect). */
function onGap(cache: ReturnType<typeof createCache>): { readonly reasons: string[] } {
  const reasons: string[] = []
  cache.on('l1-flush', ({ reason }) => reasons.push(reason))
  return { reasons }
}

/** Starts a load that holds one slot until released; resolves once its loader runs. */
async function occupySlot(cache: ReturnType<typeof createCache>, key: string) {
  let release!: () => void
  let running!: () => void
  const started = new Promise<void>((resolve) => (running = resolve))
  const done = cache.getOrSet(key, () => {
    running()
    return new Promise<string>((resolve) => (release = () => resolve('x')))
  })
  await started
  return { release: () => release(), done }
}

async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100))
    if (await check()) return true
  return check()
}

describe('a bus gap makes L1 suspect, never empty', () => {
  it('while Redis is frozen, a suspect entry is not fresh but is the fail-safe copy, served fast', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url)
    const gaps = onGap(cache)
    await sleep(200)
    expect(await cache.getOrSet('k', async () => 'v1')).toBe('v1')

    redis.pause()
    expect(await until(() => gaps.reasons.length > 0, 5_000)).toBe(true)
    expect(await cache.get('k')).toBeUndefined() // never served as fresh
    expect(await cache.get('k', { allowStale: true })).toBe('v1')

    let calls = 0
    const started = performance.now()
    const failing = async () => {
      calls++
      throw new Error('database down too')
    }
    expect(await cache.getOrSet('k', failing)).toBe('v1')
    expect(calls).toBe(1) // the loader was tried: a suspect copy is a fallback, not an answer
    expect(await cache.getOrSet('cold', async () => 'fresh')).toBe('fresh')
    expect(performance.now() - started).toBeLessThan(1_000)
    redis.resume()
    await cache.close()
  }, 20_000)

  it('when Redis answers again, a suspect entry still held by Redis is confirmed without a load', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url)
    const gaps = onGap(cache)
    await sleep(200)
    await cache.set('k', 'v1')
    const raw = new Redis(redis.url)
    await raw.client('KILL', 'TYPE', 'pubsub') // the subscriber is cut off, then resubscribes: a gap
    expect(await until(() => gaps.reasons.length > 0, 5_000)).toBe(true)
    let calls = 0
    expect(
      await cache.getOrSet('k', async () => {
        calls++
        return 'reloaded'
      }),
    ).toBe('v1')
    expect(calls).toBe(0)
    expect(await cache.get('k')).toBe('v1') // fresh again
    raw.disconnect()
    await cache.close()
  }, 20_000)

  it('a suspect entry that missed an invalidation is dropped once Redis says so, never served', async () => {
    redis = await startRedis()
    n++
    const a = newCache(redis.url)
    const b = newCache(redis.url)
    const gaps = onGap(b)
    await sleep(200)
    await a.set('k', 'v1')
    await sleep(100) // a's 'set' message has reached b, before b reads the key into its L1
    expect(await b.get('k')).toBe('v1')
    const raw = new Redis(redis.url)
    await raw.client('KILL', 'TYPE', 'pubsub')
    await a.delete('k') // b cannot hear it
    expect(await until(() => gaps.reasons.length > 0, 5_000)).toBe(true)
    // Redis holds a tombstone with another version: the suspect copy is no fallback, the loader's error is thrown.
    await expect(
      b.getOrSet('k', async () => {
        throw new Error('database down')
      }),
    ).rejects.toThrow('database down')
    expect(await b.get('k', { allowStale: true })).toBeUndefined()
    expect(await b.getOrSet('k', async () => 'v2')).toBe('v2')
    raw.disconnect()
    await Promise.all([a.close(), b.close()])
  }, 20_000)
})

describe('loader bulkhead (maxConcurrentLoads)', () => {
  it('runs at most maxConcurrentLoads loaders at once; the others wait their turn', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url, { maxConcurrentLoads: 2 })
    let active = 0
    let peak = 0
    const loader = async () => {
      active++
      peak = Math.max(peak, active)
      await sleep(100)
      active--
      return 'v'
    }
    const values = await Promise.all(Array.from({ length: 7 }, (_, i) => cache.getOrSet(`cold:${i}`, loader)))
    expect(values).toEqual(Array(7).fill('v'))
    expect(peak).toBe(2)
    await cache.close()
  })

  it('a caller holding a stale value is served it at once while every slot is taken', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url, { maxConcurrentLoads: 1, ttl: 50 })
    await cache.getOrSet('k', async () => 'old')
    await sleep(80)
    const busy = await occupySlot(cache, 'other')
    let called = false
    expect(
      await cache.getOrSet('k', async () => {
        called = true
        return 'new'
      }),
    ).toBe('old')
    busy.release()
    expect(await busy.done).toBe('x')
    await sleep(50)
    expect(called).toBe(false) // served without queueing a load behind the busy slot
    await cache.close()
  })

  it('a caller without a stale value waits no longer than its hard timeout, and its loader never runs', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url, { maxConcurrentLoads: 1 })
    const busy = await occupySlot(cache, 'a')
    let called = false
    const started = performance.now()
    await expect(
      cache.getOrSet(
        'b',
        async () => {
          called = true
          return 'y'
        },
        { timeouts: { hard: 200 } },
      ),
    ).rejects.toBeInstanceOf(LoaderTimeoutError)
    expect(performance.now() - started).toBeLessThan(1_000)
    busy.release()
    await busy.done
    await sleep(20)
    expect(called).toBe(false)
    await cache.close()
  })

  it('getOrSetMany takes a slot too: its loader waits while every slot is taken', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url, { maxConcurrentLoads: 1 })
    const busy = await occupySlot(cache, 'a')
    let calledWhileBusy = false
    let released = false
    const many = cache.getOrSetMany(['m1', 'm2'], async (missing) => {
      calledWhileBusy = !released
      return missing.map((key) => `v:${key}`)
    })
    await sleep(100)
    released = true
    busy.release()
    expect(await many).toEqual(['v:m1', 'v:m2'])
    expect(calledWhileBusy).toBe(false)
    await busy.done
    await cache.close()
  })

  it('refuses a maxConcurrentLoads that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '4' as unknown as number]) {
      expect(() => createCache({ maxConcurrentLoads: bad, logger: false })).toThrow(InvalidOptionError)
    }
  })
})

describe('the recovery queue', () => {
  it('set, delete, tag, pattern made while Redis is frozen all reach Redis once it is back', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url)
    const prefix = `out${n}`
    await cache.set('kept', 'yes')
    await cache.set('k', 'v1')
    await cache.set('s', 'old')
    await cache.set('tagged', 'v1', { tags: ['t'] })
    await cache.set('p:1', 'v1')
    await cache.set('p:2', 'v1')
    redis.pause()
    expect(await cache.set('s', 'new')).toBe(false)
    expect(await cache.delete('k')).toBe(false)
    await cache.invalidateTags(['t'])
    await cache.deleteByPattern('p:*')
    await cache.delete('k') // de-duplicated
    redis.resume()

    const raw = new Redis(redis.url)
    const live = async (key: string) => {
      const reader = createCache({ redis: redis!.url, prefix, logger: false, l1: false, bus: false })
      const value = await reader.get(key)
      await reader.close()
      return value
    }
    expect(
      await until(async () => (await live('k')) === undefined && (await live('p:2')) === undefined, 8_000),
    ).toBe(true)
    expect(await live('s')).toBeUndefined() // the older value is gone from Redis
    expect(await live('tagged')).toBeUndefined()
    expect(await live('p:1')).toBeUndefined()
    expect(await live('kept')).toBe('yes')
    raw.disconnect()
    await cache.close()
  }, 20_000)

  it('a clear() made while Redis is down empties the prefix once Redis is back', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url)
    await cache.set('a', 1)
    await cache.set('b', 2)
    redis.pause()
    await cache.clear()
    redis.resume()
    const raw = new Redis(redis.url)
    expect(await until(async () => (await raw.exists(`out${n}:a`, `out${n}:b`)) === 0, 8_000)).toBe(true)
    raw.disconnect()
    await cache.close()
  }, 20_000)

  it('past its bound the queue becomes one clear of the prefix: nothing queued is lost', async () => {
    redis = await startRedis()
    n++
    const cache = newCache(redis.url)
    await cache.set('unrelated', 'v')
    redis.pause()
    await cache.deleteMany(Array.from({ length: 10_001 }, (_, i) => `gone:${i}`))
    redis.resume()
    const raw = new Redis(redis.url)
    expect(await until(async () => (await raw.exists(`out${n}:unrelated`)) === 0, 8_000)).toBe(true)
    raw.disconnect()
    await cache.close()
  }, 20_000)
})
