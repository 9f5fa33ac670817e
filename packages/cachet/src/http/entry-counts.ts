import type { CacheApi } from '../index.js'

/** The caps one request is checked against: entries of its type, and of its user within the type. */
export interface EntryLimit {
  perType: number
  /** The user a user-scoped entry belongs to; absent on public and role routes. */
  owner?: string
  perOwner: number
}

/**
 * The entries of each cache type this process has stored and that may still be in Redis: what
 * `maxEntriesPerType` and `maxEntriesPerUser` are checked against. Per process and approximate, kept
 * in memory (never a Redis round trip): an entry counts from the moment its handler runs until the
 * time it was given (its ttl plus grace, when Redis drops it); an invalidation of a whole type (or a
 * clear) resets that type's count, an invalidation of keys forgets those keys, one by tags or another
 * pattern changes nothing (the count stays higher than Redis' until the entries' time has passed).
 */
export class EntryCounts {
  /** Per type, root-relative (with the namespace scope). */
  readonly #types = new Map<string, TypeCount>()

  constructor(cache: CacheApi) {
    cache.on('invalidate', ({ keys, pattern }) => {
      for (const key of keys ?? []) {
        for (const count of this.#types.values()) count.delete(key)
      }
      if (pattern === undefined || !pattern.endsWith('*')) return
      const literal = pattern.slice(0, -1)
      if (/[*?[\\]/.test(literal)) return
      for (const type of this.#types.keys()) {
        if (`${type}:`.startsWith(literal)) this.#types.delete(type)
      }
    })
  }

  /** True when `key` of `type` is counted already, or there is room for it under `limit`. */
  admits(type: string, key: string, limit: EntryLimit): boolean {
    const count = this.#types.get(type)
    return count === undefined || count.admits(key, limit, Date.now())
  }

  /**
   * Counts `key` of `type` for `lifetimeMs` from now. Returns 'new' when it was not counted yet, 'known'
   * when it was (its time is extended), or 'full' (nothing counted) when it is new and there is no room
   * for it under `limit`.
   */
  claim(type: string, key: string, lifetimeMs: number, limit: EntryLimit): 'new' | 'known' | 'full' {
    let count = this.#types.get(type)
    if (!count) {
      count = new TypeCount()
      this.#types.set(type, count)
    }
    const now = Date.now()
    const known = count.counts(key, now)
    if (!known && !count.admits(key, limit, now)) return 'full'
    count.set(key, now + lifetimeMs, limit.owner)
    return known ? 'known' : 'new'
  }

  /** Stops counting a key claimed as 'new' whose response was not stored after all. */
  release(type: string, key: string): void {
    this.#types.get(type)?.delete(key)
  }
}

/** One type's entries, oldest first, and how many of them each user owns. */
class TypeCount {
  readonly #entries = new Map<string, { until: number; owner?: string }>()
  // Only owners with a counted entry are listed, so this map is never larger than #entries.
  readonly #owners = new Map<string, number>()

  counts(key: string, now: number): boolean {
    return (this.#entries.get(key)?.until ?? 0) > now
  }

  admits(key: string, limit: EntryLimit, now: number): boolean {
    if (this.counts(key, now)) return true
    this.#dropExpired(now)
    if (this.#entries.size >= limit.perType) return false
    return limit.owner === undefined || (this.#owners.get(limit.owner) ?? 0) < limit.perOwner
  }

  set(key: string, until: number, owner: string | undefined): void {
    // Re-inserted at the end, so the map stays ordered by when each entry was last stored.
    this.delete(key)
    this.#entries.set(key, { until, owner })
    if (owner !== undefined) this.#owners.set(owner, (this.#owners.get(owner) ?? 0) + 1)
  }

  delete(key: string): void {
    const entry = this.#entries.get(key)
    if (!entry) return
    this.#entries.delete(key)
    if (entry.owner === undefined) return
    const left = this.#owners.get(entry.owner)! - 1
    if (left > 0) this.#owners.set(entry.owner, left)
    else this.#owners.delete(entry.owner)
  }

  // Drops expired entries from the oldest on; an entry outliving an older one's time (a route with a
  // longer ttl) holds the rest until it expires too, so the count errs on the high side.
  #dropExpired(now: number): void {
    for (const [key, { until }] of this.#entries) {
      if (until > now) return
      this.delete(key)
    }
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
