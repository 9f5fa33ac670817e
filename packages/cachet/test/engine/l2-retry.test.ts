import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { engineRedisOf } from '../../src/engine-redis.js'
import { type CacheEvents, type CacheOptions, createCache, InvalidOptionError } from '../../src/index.js'
import { createMetrics } from '../../src/metrics/prometheus.js'
import { type ChaosProxy, startChaosProxy } from '../../src/testing/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

/*
 * Seed 001's retry strategy (3 attempts, 0.1 s, exponential) on a real redis-server, faults made by the
 * chaos proxy between the cache and Redis: a repeat saves a call from a transient fault, never runs
 * past the soft timeout, and never repeats a command that is not safe to repeat.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let redis: TestRedis
let proxy: ChaosProxy
/** A direct connection (not through the proxy): writes fixtures and reads INFO commandstats. */
let direct: Redis
const caches: Array<{ close(): Promise<void> }> = []

beforeAll(async () => {
  redis = await startRedis()
  proxy = await startChaosProxy({ target: { port: redis.port } })
  direct = new Redis(redis.url)
})

afterEach(async () => {
  proxy.heal()
  await Promise.all(caches.splice(0).map((cache) => cache.close()))
})

afterAll(async () => {
  direct.disconnect()
  await proxy.close()
  await redis.stop()
})

/** A cache on the proxy with neither L1 nor the bus, so every read goes to Redis. */
async function cacheOnProxy(options: CacheOptions = {}) {
  const cache = createCache({
    redis: proxy.url,
    prefix: 'retry',
    logger: false,
    l1: false,
    bus: false,
    lock: false,
    ...options,
  })
  caches.push(cache)
  const retries: CacheEvents['retry'][] = []
  cache.on('retry', (event) => retries.push(event))
  // Connected, scripts loaded: the first timed call pays no connection set-up.
  await cache.set('warm', 0)
  return { cache, retries, guard: engineRedisOf(cache)!.guard }
}

/** How many times Redis ran these commands in all (INFO commandstats). */
async function commandCalls(names: readonly string[]): Promise<number> {
  const info = await direct.info('commandstats')
  let calls = 0
  for (const name of names) calls += Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0)
  return calls
}

/** The commands a read that takes the stampede lock may send: a GET, SET NX, or a script. */
const READ_AND_LOCK = ['get', 'set', 'evalsha', 'eval'] as const

describe('retry of L2 calls safe to repeat (l2.retry)', () => {
  it('a GET whose connection is cut is repeated once ioredis has reconnected, and answers; counted in stats and metrics', async () => {
    // threshold 1: had the failed first try counted towards the breaker, the circuit would be open
    // and the repeat refused.
    const { cache, retries, guard } = await cacheOnProxy({
      l2: { timeout: '500ms', circuitBreaker: { threshold: 1, duration: '10s' } },
      timeouts: { soft: '3s' },
    })
    const metrics = createMetrics(cache)
    await cache.set('k', 'v1')

    proxy.cut()
    expect(await cache.get('k')).toBe('v1')

    const stats = cache.stats().l2!
    // This read was repeated and answered once; on a starved machine the cut can also catch another
    // call still in flight, itself repeated.
    const recoveredReads = retries.filter((r) => r.operation === 'get' && r.key === 'k' && r.result === 'ok')
    expect(recoveredReads, JSON.stringify(retries)).toHaveLength(1)
    expect(stats.retries.recovered).toBe(retries.filter((r) => r.result === 'ok').length)
    expect(stats.retries.sent).toBeGreaterThanOrEqual(1)
    expect(stats.retries.outOfBudget).toBe(0)
    expect(stats.errors).toBe(0)
    expect(stats.circuit).toBe('closed')
    expect(guard.consecutiveFailures).toBe(0)
    const text = await metrics.metrics()
    expect(text).toContain('cachet_l2_retries_total{operation="get",result="ok"} 1')
    metrics.close()
  })

  it('an invalidation caught by a connection reset is repeated: Redis holds the tombstone when delete() returns', async () => {
    const { cache, retries } = await cacheOnProxy({ l2: { timeout: '500ms' }, timeouts: { soft: '3s' } })
    await cache.set('d', 'v1')
    proxy.cut()
    // true: a live entry was reached now, not queued for later (a queued invalidation answers false).
    expect(await cache.delete('d')).toBe(true)
    expect(await direct.get('retry:d')).not.toBeNull() // a tombstone, not the entry
    expect(await cache.get('d')).toBeUndefined()
    expect(cache.stats().l2).toMatchObject({ errors: 0, retries: { recovered: 1 } })
    expect(retries.at(-1)).toMatchObject({ operation: 'delete', result: 'ok' })
  })

  // The repeat of an invalidation whose first try ran but answered too late finds its own tombstone
  // there; the tombstone records that it replaced a live entry, so delete() still answers true.
  it('delete() of a live key whose first try ran after its deadline, then was repeated, answers true', async () => {
    const { cache, retries } = await cacheOnProxy({ l2: { timeout: '400ms' }, timeouts: { soft: '5s' } })
    await cache.set('late', 'v1')
    // Redis holds every write for 700 ms: the first try times out (400 ms; 300 ms of margin on a loaded
    // machine), a repeat (same connection) runs after it once the pause ends and answers in time.
    await direct.client('PAUSE', 700, 'WRITE')
    const deleted = await cache.delete('late')
    expect(retries.at(-1)).toMatchObject({ operation: 'delete', result: 'ok' })
    expect(await cache.get('late')).toBeUndefined()
    expect(deleted).toBe(true)
    // A key that held nothing, deleted the same way, still answers false.
    await direct.client('PAUSE', 700, 'WRITE')
    expect(await cache.delete('never-set')).toBe(false)
    expect(retries.at(-1)).toMatchObject({ operation: 'delete', result: 'ok' })
  })

  it('a plain set caught by a connection reset is repeated: Redis holds the value when set() returns', async () => {
    const { cache, retries } = await cacheOnProxy({ l2: { timeout: '500ms' }, timeouts: { soft: '3s' } })
    await cache.set('s', 'v1')
    proxy.cut()
    expect(await cache.set('s', 'v2')).toBe(true)
    expect(await cache.get('s')).toBe('v2')
    expect(cache.stats().l2).toMatchObject({ errors: 0, retries: { recovered: 1 } })
    expect(retries.at(-1)).toMatchObject({ operation: 'setMany', result: 'ok' })
  })

  it('without retry the same cut costs the read: the caller gets nothing from Redis', async () => {
    const { cache, retries } = await cacheOnProxy({
      l2: { timeout: '500ms', retry: false },
      timeouts: { soft: '3s' },
    })
    await cache.set('k', 'v1')
    proxy.cut()
    expect(await cache.get('k')).toBeUndefined()
    expect(cache.stats().l2).toMatchObject({ errors: 1, retries: { sent: 0, recovered: 0, outOfBudget: 0 } })
    expect(retries).toEqual([])
  })

  it('when every attempt fails, the call fails once: one error, one failure towards the breaker', async () => {
    const { cache, guard } = await cacheOnProxy({
      l2: { timeout: '500ms', circuitBreaker: { threshold: 10, duration: '10s' } },
      timeouts: { soft: '3s' },
    })
    await cache.set('k', 'v1')
    const before = guard.consecutiveFailures
    proxy.refuse(true)
    proxy.cut()
    expect(await cache.get('k')).toBeUndefined()
    const stats = cache.stats().l2!
    expect(stats.retries).toEqual({ sent: 2, recovered: 0, outOfBudget: 0 })
    expect(stats.errors).toBe(1)
    expect(guard.consecutiveFailures - before).toBe(1)
  })

  it('a repeat starts only if it can end within the soft timeout', async () => {
    // Every try times out (replies come 2 × 400 ms late). Each needs delay + l2.timeout (100 ms) of
    // budget: with soft 400 ms, the first repeat fits (≈ 100 + 50 + 100) and the second does not.
    const { cache, retries } = await cacheOnProxy({
      l2: { timeout: '100ms', retry: { attempts: 5, delay: '50ms', factor: 2 }, circuitBreaker: false },
      timeouts: { soft: '400ms' },
    })
    await cache.set('k', 'v1')
    proxy.latency(400)
    const started = performance.now()
    expect(await cache.get('k')).toBeUndefined()
    const elapsed = performance.now() - started
    // All five tries would take ≈ 1,250 ms; within the budget it is ≈ 250 ms. Wide margin for a loaded
    // machine, still well apart from the unbounded schedule.
    expect(elapsed).toBeLessThan(700)
    const counts = cache.stats().l2!.retries
    expect(counts.sent).toBeLessThanOrEqual(1)
    expect(counts.outOfBudget).toBe(1)
    expect(retries.at(-1)).toMatchObject({ operation: 'get', result: 'no-budget' })
  })

  it("with the defaults (seed's 100 ms first wait, 50 ms soft timeout) no repeat fits: the call goes to fail-safe at once", async () => {
    const { cache } = await cacheOnProxy({ l2: { circuitBreaker: false } })
    await cache.set('k', 'v1')
    proxy.latency(400)
    const started = performance.now()
    expect(await cache.get('k')).toBeUndefined()
    expect(performance.now() - started).toBeLessThan(400)
    expect(cache.stats().l2!.retries).toEqual({ sent: 0, recovered: 0, outOfBudget: 1 })
  })

  it('a read that takes the stampede lock is never repeated; a plain GET under the same fault is (commands counted on the server)', async () => {
    const { cache } = await cacheOnProxy({
      lock: {},
      l2: { timeout: '100ms', retry: { attempts: 3, delay: '20ms', factor: 2 }, circuitBreaker: false },
      timeouts: { soft: '3s' },
    })
    await cache.set('plain', 'v1')
    // Every try reaches Redis (late) and times out: exactly the fault a repeat is for.
    proxy.latency(300)
    const before = await commandCalls(READ_AND_LOCK)
    let loads = 0
    const value = await cache.getOrSet('locked', async () => {
      loads++
      return 'loaded'
    })
    expect(value).toBe('loaded')
    expect(loads).toBe(1)
    proxy.heal()
    await sleep(1_000)
    // One read-and-lock (a script, or a GET first): sent once, never again.
    expect((await commandCalls(READ_AND_LOCK)) - before).toBe(1)
    const getsAfterLock = await commandCalls(['get'])
    expect(cache.stats().l2!.retries.sent).toBe(0)

    proxy.latency(300)
    expect(await cache.get('plain')).toBeUndefined()
    proxy.heal()
    await sleep(1_000)
    expect((await commandCalls(['get'])) - getsAfterLock).toBe(3)
    expect(cache.stats().l2!.retries.sent).toBe(2)
  })

  it('validates l2.retry', () => {
    expect(() => createCache({ l2: { retry: { factor: 0.5 } }, logger: false })).toThrow(InvalidOptionError)
    expect(() => createCache({ l2: { retry: { attempts: 0 } }, logger: false })).toThrow(InvalidOptionError)
    expect(() => createCache({ l2: { retry: { delay: -1 } }, logger: false })).toThrow(InvalidOptionError)
  })
})
