import { engineOf } from '../../src/core/engine-of.js'
import { type CacheApi, type CacheOptions, createCache } from '../../src/index.js'
import { RELAXED_L2 } from './redis-server.js'
import { timerLagMs } from './timer-lag.js'

/** The coherence bound of Redis tracking on a quiet machine: every instance drops its copy within this. */
export const DROP_MS = 50

/**
 * DROP_MS widened by ten times the timer lag measured now, so a starved machine's own delays do not
 * count against tracking; capped at 1.5 s, far below how long a copy that tracking missed lives
 * (l1.maxTtl, 60 s).
 */
export async function dropBoundMs(): Promise<number> {
  return Math.min(1_500, DROP_MS + 10 * (await timerLagMs()))
}

/**
 * Several caches on one Redis, as separate instances of a service would be: same prefix, each with
 * its own connections and L1, kept coherent by Redis tracking alone (the bus is off).
 */
export async function trackingFleet(
  redis: CacheOptions['redis'],
  prefix: string,
  count = 3,
  options: CacheOptions = {},
): Promise<CacheApi[]> {
  const caches = Array.from({ length: count }, () =>
    createCache({ redis, prefix, logger: false, l2: RELAXED_L2, bus: false, ...options }),
  )
  for (const cache of caches) await trackingOn(cache)
  return caches
}

/** Resolves once the cache's health reports tracking on. */
export async function trackingOn(cache: CacheApi, limitMs = 10_000): Promise<void> {
  const started = Date.now()
  while ((await cache.health()).invalidation?.tracking !== 'on') {
    if (Date.now() - started > limitMs) throw new Error('tracking did not come on')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** True when the cache's L1 holds the key (relative to the prefix). */
export function inL1(cache: CacheApi, key: string): boolean {
  return engineOf(cache).l1?.get(key) !== undefined
}

/**
 * Writes the key through the first cache, then reads it through the others until each holds it in
 * L1 (the writer from its own write, the others from Redis). A read the write's own invalidation
 * overtakes is, rightly, not kept in L1: that reader reads again.
 */
export async function cacheEverywhere(caches: CacheApi[], key: string, value: unknown = 'v'): Promise<void> {
  await caches[0]!.set(key, value)
  for (const cache of caches) {
    for (let attempt = 0; !inL1(cache, key); attempt++) {
      if (attempt === 20) throw new Error(`key '${key}' is not in L1`)
      await cache.getOrSet(key, async () => value)
      if (!inL1(cache, key)) await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
}

/**
 * Milliseconds from now until no cache holds the key in L1 any more (polled every millisecond), or
 * Infinity after limitMs.
 */
export async function msUntilDropped(caches: CacheApi[], key: string, limitMs = 2_000): Promise<number> {
  const started = performance.now()
  while (caches.some((cache) => inL1(cache, key))) {
    if (performance.now() - started > limitMs) return Number.POSITIVE_INFINITY
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  return performance.now() - started
}
