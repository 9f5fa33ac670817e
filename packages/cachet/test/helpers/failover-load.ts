import type { CacheApi } from '../../src/core/cache-api.js'
import type { CacheOptions } from '../../src/core/options.js'
import { createCache } from '../../src/index.js'

/** What a failover under load measured. */
export interface FailoverReport {
  /** getOrSet calls made by the load, and how many threw. */
  calls: number
  failed: number
  /** The longest single call, in ms, over the whole run. */
  longestWaitMs: number
  /** From the kill until every instance wrote to and read from Redis again. */
  recoveredAfterMs: number
  /** Instances still returning a value invalidated during the failover, once recovered (must be 0). */
  staleAfterInvalidation: number
  /** Cold keys asked by every instance at once after the failover, and loads they caused. */
  coldKeys: number
  coldLoads: number
}

/** How the test under way breaks Redis and waits for it to be whole again. */
export interface Failover {
  /** SIGKILLs the master. */
  kill(): Promise<void>
  /** Resolves once Redis (Sentinel or Cluster) has a new master for everything. */
  recovered(): Promise<void>
}

const INSTANCES = 3
const IN_FLIGHT = 32
const HOT_KEYS = 200
// Short, so the load keeps reading, locking and writing Redis rather than living off L1.
const HOT_TTL = '250ms'
const INVALIDATED_KEYS = 10
const COLD_KEYS = 20
const COLD_CALLERS = 8
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Three cache instances on one Redis under IN_FLIGHT concurrent getOrSet calls, while `failover` kills
 * the master. During the failover one instance invalidates keys every instance holds in L1; after it,
 * every instance asks the same cold keys at once. The load runs from before the kill until the
 * checks are done.
 */
export async function failoverUnderLoad(
  redis: CacheOptions['redis'],
  failover: Failover,
): Promise<FailoverReport> {
  const caches: CacheApi[] = Array.from({ length: INSTANCES }, () =>
    createCache({ redis, prefix: 'fo', logger: false, l2: { timeout: '500ms' }, lock: { wait: '5s' } }),
  )
  const truth = new Map<string, string>()
  const load = async (key: string) => {
    await sleep(2)
    return truth.get(key) ?? `value of ${key}`
  }
  let calls = 0
  let failed = 0
  let longestWaitMs = 0
  let running = true
  const worker = async (index: number) => {
    const cache = caches[index % INSTANCES]!
    for (let i = index; running; i += IN_FLIGHT) {
      const key = `hot:${i % HOT_KEYS}`
      const started = performance.now()
      try {
        await cache.getOrSet(key, () => load(key), { ttl: HOT_TTL })
      } catch {
        failed++
      }
      calls++
      longestWaitMs = Math.max(longestWaitMs, performance.now() - started)
      // Yield, so the timers of the failover and of the checks below get their turn.
      await sleep(1)
    }
  }
  const workers = Array.from({ length: IN_FLIGHT }, (_, i) => worker(i))

  try {
    // Every instance holds the keys about to be invalidated in L1.
    const invalidated = Array.from({ length: INVALIDATED_KEYS }, (_, i) => `kept:${i}`)
    for (const key of invalidated) truth.set(key, 'v1')
    for (const cache of caches)
      for (const key of invalidated) await cache.getOrSet(key, () => load(key), { ttl: '10m' })
    await sleep(1_000)

    const killedAt = performance.now()
    await failover.kill()
    // The source changes and one instance invalidates, while Redis has no master.
    for (const key of invalidated) truth.set(key, 'v2')
    await caches[0]!.deleteMany(invalidated)
    await failover.recovered()
    // Whole again once every instance has written and read a key of its own through Redis.
    for (const [i, cache] of caches.entries()) {
      for (;;) {
        if ((await cache.set(`probe:${i}`, i)) && (await cache.has(`probe:${i}`))) break
        await sleep(50)
      }
    }
    const recoveredAfterMs = performance.now() - killedAt
    // The queued invalidation is replayed within its retry period (1 s); give it three.
    await sleep(3_000)
    let staleAfterInvalidation = 0
    for (const cache of caches) {
      for (const key of invalidated) if ((await cache.get(key)) === 'v1') staleAfterInvalidation++
    }

    let coldLoads = 0
    const cold = Array.from({ length: COLD_KEYS }, (_, i) => `cold:${i}`)
    await Promise.all(
      cold.flatMap((key) =>
        caches.flatMap((cache) =>
          Array.from({ length: COLD_CALLERS }, () =>
            cache.getOrSet(key, async () => {
              coldLoads++
              await sleep(100)
              return key
            }),
          ),
        ),
      ),
    )
    return {
      calls,
      failed,
      longestWaitMs: Math.round(longestWaitMs),
      recoveredAfterMs: Math.round(recoveredAfterMs),
      staleAfterInvalidation,
      coldKeys: COLD_KEYS,
      coldLoads,
    }
  } finally {
    running = false
    await Promise.all(workers)
    await Promise.all(caches.map((cache) => cache.close()))
  }
}
