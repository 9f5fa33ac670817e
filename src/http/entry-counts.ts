import type { CacheApi } from '../index.js'

/**
 * The entries of each cache type this process has stored and that may still be in Redis: what
 * `maxEntriesPerType` is checked against. Per process and approximate, kept in memory (never a Redis
 * round trip): an entry counts from the moment its handler runs until the time it was given (its ttl
 * plus grace, when Redis drops it); an invalidation of a whole type (or a clear) resets that type's
 * count, an invalidation of keys forgets those keys, one by tags or another pattern changes nothing
 * (the count stays higher than Redis' until the entries' time has passed).
 */
export class EntryCounts {
  /** Per type (root-relative, with the namespace scope): key → until when it counts (epoch ms), oldest first. */
  readonly #types = new Map<string, Map<string, number>>()

  constructor(cache: CacheApi) {
    cache.on('invalidate', ({ keys, pattern }) => {
      for (const key of keys ?? []) {
        for (const entries of this.#types.values()) entries.delete(key)
      }
      if (pattern === undefined || !pattern.endsWith('*')) return
      const literal = pattern.slice(0, -1)
      if (/[*?[\\]/.test(literal)) return
      for (const type of this.#types.keys()) {
        if (`${type}:`.startsWith(literal)) this.#types.delete(type)
      }
    })
  }

  /** True when `key` of `type` is counted already, or its type counts fewer than `max` entries. */
  admits(type: string, key: string, max: number): boolean {
    const entries = this.#types.get(type)
    if (!entries) return max > 0
    const now = Date.now()
    if ((entries.get(key) ?? 0) > now) return true
    dropExpired(entries, now)
    return entries.size < max
  }

  /**
   * Counts `key` of `type` for `lifetimeMs` from now. Returns 'new' when it was not counted yet, 'known'
   * when it was (its time is extended), or 'full' (nothing counted) when it is new and its type already
   * counts `max` entries.
   */
  claim(type: string, key: string, lifetimeMs: number, max: number): 'new' | 'known' | 'full' {
    let entries = this.#types.get(type)
    if (!entries) {
      entries = new Map()
      this.#types.set(type, entries)
    }
    const now = Date.now()
    const known = (entries.get(key) ?? 0) > now
    if (!known && !this.admits(type, key, max)) return 'full'
    // Re-inserted at the end, so the map stays ordered by when each entry was last stored.
    entries.delete(key)
    entries.set(key, now + lifetimeMs)
    return known ? 'known' : 'new'
  }

  /** Stops counting a key claimed as 'new' whose response was not stored after all. */
  release(type: string, key: string): void {
    this.#types.get(type)?.delete(key)
  }
}

// Drops expired entries from the oldest on; an entry outliving an older one's time (a route with a
// longer ttl) holds the rest until it expires too, so the count errs on the high side.
function dropExpired(entries: Map<string, number>, now: number): void {
  for (const [key, until] of entries) {
    if (until > now) return
    entries.delete(key)
  }
}

const counts = new WeakMap<CacheApi, EntryCounts>()

/** The entry counts of one cache, shared by every adapter and route using it; created on first use. */
export function entryCounts(cache: CacheApi): EntryCounts {
  let found = counts.get(cache)
  if (!found) {
    found = new EntryCounts(cache)
    counts.set(cache, found)
  }
  return found
}
