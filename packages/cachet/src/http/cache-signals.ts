import type { CacheApi } from '../index.js'

/**
 * What the engine tells us through its events, per cache: which keys it just answered with a stale
 * value (so a response is labelled STALE exactly when the engine served one) and whether its Redis
 * circuit is open (BYPASS). One listener pair per cache, shared by every route.
 */
export class CacheSignals {
  #staleAt = new Map<string, number>()
  #circuit: 'closed' | 'open' | 'half-open'

  constructor(cache: CacheApi) {
    this.#circuit = cache.stats().l2?.circuit ?? 'closed'
    cache.on('stale', ({ key }) => {
      // Bounded: a burst of stale keys cannot grow this map past a few thousand entries.
      if (this.#staleAt.size > 4096) this.#staleAt.clear()
      this.#staleAt.set(key, Date.now())
    })
    cache.on('circuit', ({ state }) => {
      this.#circuit = state
    })
  }

  /** True when the engine served `key` (relative to the root prefix) stale at or after `since`. */
  servedStale(key: string, since: number): boolean {
    const at = this.#staleAt.get(key)
    return at !== undefined && at >= since
  }

  /** True when Redis is configured and its circuit is not closed: responses are not shared across instances. */
  get redisUnavailable(): boolean {
    return this.#circuit !== 'closed'
  }
}

const signals = new WeakMap<CacheApi, CacheSignals>()

/** The signals of one cache, created on first use. */
export function cacheSignals(cache: CacheApi): CacheSignals {
  let found = signals.get(cache)
  if (!found) {
    found = new CacheSignals(cache)
    signals.set(cache, found)
  }
  return found
}
