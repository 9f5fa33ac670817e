import type { Duration } from './duration.js'
import type { CallOptions } from './options.js'

/** Which tier answered. */
export type Tier = 'l1' | 'l2'

/** Counters of one scope (the whole cache, or one namespace = the first segment of a key). */
export interface Counters {
  hits: number
  misses: number
  staleHits: number
  errors: number
  /** hits / (hits + misses), 0..1; stale hits count as hits. */
  hitRate: number
  /** Loader calls and their average duration (seed 003: avg query time vs avg cache time). */
  loads: number
  loaderMs: number
  /** Average time of a get/getOrSet answered from the cache, in ms. */
  cacheMs: number
}

/** What cache.stats() returns. */
export interface CacheStats extends Counters {
  l1: { hits: number; misses: number; size: number; bytes: number; maxBytes: number } | null
  l2: { hits: number; misses: number; errors: number; circuit: 'closed' | 'open' | 'half-open' } | null
  sets: number
  deletes: number
  invalidations: number
  lockWaits: number
  /** Per namespace (first key segment, e.g. 'dashboard' for 'dashboard:abc'); at most 100, then 'other'. */
  namespaces: Record<string, Counters>
}

/** What cache.health() returns. Thresholds from seed 004: latency > 100 ms or memory > 90% → degraded. */
export interface CacheHealth {
  status: 'healthy' | 'degraded' | 'unhealthy'
  /** PING round trip to Redis in ms (absent without Redis, or when it did not answer). */
  latencyMs?: number
  /** Redis memory: used and maxmemory in bytes (max 0 = unbounded), percent of max when bounded. */
  memory?: { used: number; max: number; usagePercent?: number }
  /** L1-only caches are healthy without Redis. */
  redis: {
    configured: boolean
    connected: boolean
    latencyMs?: number
    usedMemory?: number
    maxMemory?: number
    /** used / max in percent; undefined when maxmemory is 0 (unbounded). */
    usagePercent?: number
    evictionPolicy?: string
    circuit?: 'closed' | 'open' | 'half-open'
    error?: string
    lastSeen?: string
  }
  reasons: string[]
}

/** One key as listed by cache.keys(). Keys are shown relative to the prefix. */
export interface KeyInfo {
  key: string
  type: string
  /** Remaining Redis TTL in ms, undefined when none. */
  ttlMs?: number
  /** MEMORY USAGE in bytes. */
  bytes?: number
  /** A cachet entry's freshness and grace (ms since the epoch); absent for data cachet did not write. */
  freshUntil?: number
  staleUntil?: number
}

/** A decoded entry, as the admin API shows it. */
export interface KeyDetails extends KeyInfo {
  state: 'fresh' | 'stale' | 'tombstone' | 'foreign'
  value?: unknown
  tags: readonly string[]
  createdAt?: number
  freshUntil?: number
  staleUntil?: number
  /** Size of the stored bytes, and whether they are compressed. */
  storedBytes: number
  compressed: boolean
}

/** Events: listeners get the key (relative to the prefix) and details. */
export interface CacheEvents {
  /** `durationMs`: how long a read answered from Redis took (L1 hits are not timed). */
  hit: { key: string; tier: Tier; durationMs?: number }
  miss: { key: string }
  stale: { key: string; reason: 'swr' | 'fail-safe' | 'soft-timeout' }
  set: { key: string }
  error: { key?: string; operation: string; error: Error }
  invalidate: { keys?: readonly string[]; tags?: readonly string[]; pattern?: string; count: number }
  load: { key: string; durationMs: number; ok: boolean }
  'lock-wait': { key: string; waitedMs: number }
  circuit: { state: 'open' | 'closed' | 'half-open' }
  redis: { state: 'connect' | 'ready' | 'error' | 'close' | 'reconnecting' | 'end'; error?: Error }
  'l1-flush': { reason: string }
}

/** What a loader is told about the call it serves. */
export interface LoaderContext<T> {
  /** The key relative to the prefix. */
  key: string
  /** The stale value being refreshed, if any. */
  stale?: T
  /** True for an early refresh (XFetch) that nobody is waiting for. */
  background: boolean
  /** Return the value to the callers, but do not cache it (e.g. an error page, a private response). */
  noStore(): void
}

/** Produces the value of a key on a miss. Must not resolve `undefined` (use `null`). */
export type Loader<T> = (context: LoaderContext<T>) => Promise<T> | T

/** The public engine, as returned by createCache(). Keys are relative to the prefix. */
export interface CacheApi {
  readonly prefix: string
  /** The key prefix a namespace view adds ('' at the root, 'users:' for namespace('users')). */
  readonly scope: string
  getOrSet<T>(key: string, loader: Loader<T>, options?: CallOptions): Promise<T>
  get<T>(key: string, options?: { allowStale?: boolean }): Promise<T | undefined>
  set<T>(key: string, value: T, options?: Pick<CallOptions, 'ttl' | 'grace' | 'tags'>): Promise<boolean>
  delete(key: string): Promise<boolean>
  deleteMany(keys: readonly string[]): Promise<number>
  has(key: string): Promise<boolean>
  expire(key: string, ttl: Duration): Promise<boolean>
  /** Remaining freshness in ms, undefined when absent. */
  ttl(key: string): Promise<number | undefined>
  getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]>
  setMany<T>(
    items: ReadonlyArray<{ key: string; value: T } & Pick<CallOptions, 'ttl' | 'grace' | 'tags'>>,
  ): Promise<boolean[]>
  getOrSetMany<T>(
    keys: readonly string[],
    loadMissing: (missing: string[]) => Promise<Map<string, T> | Record<string, T> | T[]>,
    options?: Pick<CallOptions, 'ttl' | 'grace' | 'tags'>,
  ): Promise<(T | undefined)[]>
  wrap<A extends unknown[], R>(
    fn: (...args: A) => Promise<R>,
    options?: Pick<CallOptions, 'ttl' | 'grace' | 'tags'> & { key?: string | ((...args: A) => string) },
  ): (...args: A) => Promise<R>
  invalidateTags(tags: readonly string[]): Promise<number>
  /** Glob pattern relative to the prefix ('dashboard:*'); SCAN + UNLINK, never KEYS. */
  deleteByPattern(pattern: string): Promise<number>
  /** Counts (and samples) what deleteByPattern would delete. */
  countByPattern(pattern: string, sampleSize?: number): Promise<{ count: number; sample: string[] }>
  /** Deletes only this cache's keys (and only this namespace's, on a namespace). Never FLUSHDB. */
  clear(): Promise<number>
  namespace(name: string): CacheApi
  /** One page of keys under the prefix (admin key browser). */
  keys(options?: {
    pattern?: string
    cursor?: string
    limit?: number
  }): Promise<{ keys: KeyInfo[]; cursor: string }>
  inspect(key: string): Promise<KeyDetails | undefined>
  stats(): CacheStats
  resetStats(): void
  health(): Promise<CacheHealth>
  on<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): this
  off<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): this
  /** Waits for background writes, closes the connections cachet opened. */
  close(): Promise<void>
}
