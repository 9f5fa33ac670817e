import type { Advice } from './advisor.js'
import type { Duration } from './duration.js'
import type {
  CallOptions,
  GetOptions,
  ManyLoadOptions,
  ManyOptions,
  SchemaOptions,
  StoreOptions,
} from './options.js'
import type { WrapOptions } from './wrap.js'

/** Which tier answered. */
export type Tier = 'l1' | 'l2'

/**
 * Why a stale value (past its ttl, within grace) was served: `swr` another caller or process is
 * refreshing it; `fail-safe` the loader failed (or cannot run: Redis down, every load slot taken);
 * `soft-timeout` the loader passed `timeouts.soft`; `allow-stale` the caller asked for it (get).
 */
export type StaleReason = 'swr' | 'fail-safe' | 'soft-timeout' | 'allow-stale'

/** What one getOrSetResult() call gave: the value and how it was obtained. */
export interface CacheResult<T> {
  value: T
  /** `hit`: a fresh cached value; `stale`: a value past its ttl, within grace; `miss`: a loader produced it. */
  outcome: 'hit' | 'stale' | 'miss'
  /** Where the value came from. */
  source: Tier | 'loader'
  /** Set when `outcome` is `stale`. */
  staleReason?: StaleReason
  /**
   * The value came from work another caller started: a load in flight in this process that this call
   * joined, or another process's load that this call waited for through the stampede lock.
   */
  shared: boolean
  /** Redis is configured but could not be read for this call: the value was not shared through it. */
  degraded: boolean
}

/**
 * What a caller that needed to load got from the distributed stampede lock: `acquired` it took the
 * lock at once; `waited` another process held it and the caller waited (for its value, or to take the
 * lock itself, or until lock.wait ran out); `skipped` another process held it and the caller did not
 * wait (served a stale value, or a background refresh gave up).
 */
export type LockResult = 'acquired' | 'waited' | 'skipped'

/** Counters of one scope (the whole cache, or one namespace = the first segment of a key). */
export interface Counters {
  hits: number
  misses: number
  staleHits: number
  errors: number
  /** Cached values a call's schema refused (then migrated, or loaded again as a miss). */
  invalid: number
  /** hits / (hits + misses), 0..1; stale hits count as hits. */
  hitRate: number
  /** Loader calls and their average duration (avg query time vs avg cache time). */
  loads: number
  loaderMs: number
  /** Average time of a get/getOrSet answered from the cache, in ms. */
  cacheMs: number
}

/** The Redis INFO figures operators look at (cache.redisFigures()). */
export interface RedisFigures {
  version?: string
  uptimeSeconds?: number
  usedMemory?: number
  usedMemoryHuman?: string
  maxMemory?: number
  evictedKeys?: number
  connectedClients?: number
  opsPerSec?: number
  keyspaceHits?: number
  keyspaceMisses?: number
  /** DBSIZE of the database (every key, not only the cache's; summed over a Cluster's masters). */
  dbSize?: number
}

/** What cache.stats() returns. */
export interface CacheStats extends Counters {
  l1: { hits: number; misses: number; size: number; bytes: number; maxBytes: number } | null
  /**
   * `errors`: L2 calls that failed for good (a call repeated and then answered is not one);
   * `retries`: see RetryCounts.
   */
  l2: {
    hits: number
    misses: number
    errors: number
    retries: RetryCounts
    circuit: 'closed' | 'open' | 'half-open'
  } | null
  sets: number
  deletes: number
  invalidations: number
  lockWaits: number
  /** Callers that reached the stampede lock, by what they got (see LockResult). */
  locks: Record<LockResult, number>
  /** Per namespace (first key segment, e.g. 'dashboard' for 'dashboard:abc'); at most 100, then 'other'. */
  namespaces: Record<string, Counters>
}

/** What cache.health() returns. Thresholds: latency > 100 ms or memory > 90% → degraded. */
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
  /**
   * What keeps L1 coherent across instances: Redis tracking and/or the bus, and tracking's state
   * ('refused' with the server's reason when the bus took over). Absent without Redis.
   */
  invalidation?: {
    sources: Array<'tracking' | 'bus'>
    tracking?: 'on' | 'connecting' | 'refused'
    refusal?: string
  }
  reasons: string[]
  /** Risky settings the start-up advisor found (docs/advisor.md); they do not change `status`. */
  advice: readonly Advice[]
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
  /** The validators a loader stored (ctx.setEtag, ctx.setLastModified: epoch ms), when it did. */
  etag?: string
  lastModified?: number
  /** Size of the stored bytes, and whether they are compressed. */
  storedBytes: number
  compressed: boolean
}

/** Events: listeners get the key (relative to the prefix) and details. */
export interface CacheEvents {
  /**
   * `durationMs`: how long the read took, from the L1 lookup to the answer (L1 or Redis). A getOrSet
   * L1 hit is timed only while a `hit` listener is registered (an untimed L1 hit has none).
   */
  hit: { key: string; tier: Tier; durationMs?: number }
  /** `durationMs`: how long the lookup took before it missed (L1 and Redis; the loader is not included). */
  miss: { key: string; durationMs?: number }
  stale: { key: string; reason: StaleReason }
  set: { key: string }
  error: { key?: string; operation: string; error: Error }
  invalidate: { keys?: readonly string[]; tags?: readonly string[]; pattern?: string; count: number }
  load: { key: string; durationMs: number; ok: boolean }
  'lock-wait': { key: string; waitedMs: number }
  /** A caller that needed to load reached the stampede lock (each such caller once). */
  lock: { key: string; result: LockResult }
  circuit: { state: 'open' | 'closed' | 'half-open' }
  redis: { state: 'connect' | 'ready' | 'error' | 'close' | 'reconnecting' | 'end'; error?: Error }
  /** The bus reported a gap: every L1 entry became suspect (kept as fail-safe, never fresh). */
  'l1-flush': { reason: string }
  /** A risky setting found at start-up, once per code (docs/advisor.md). */
  advice: Advice
  /**
   * An L2 call that failed on a transient fault was repeated (`attempt` ≥ 2; `result` 'ok' or
   * 'failed'), or would have been but no repeat could finish within the soft timeout ('no-budget').
   */
  retry: { operation: string; key?: string; attempt: number; result: RetryResult }
  /** A cached value the call's schema refused: `migrated` into an accepted one, or else a miss. */
  invalid: { key: string; migrated: boolean }
}

/** How a repeat of an L2 call went (see the `retry` event). */
export type RetryResult = 'ok' | 'failed' | 'no-budget'

/** L2 calls repeated after a transient fault (docs/reliability.md, retries). */
export interface RetryCounts {
  /** Repeats sent to Redis. */
  sent: number
  /** Calls a repeat saved: they failed, were repeated, and answered. */
  recovered: number
  /** Calls that failed and were safe to repeat, but no repeat could finish within the soft timeout. */
  outOfBudget: number
}

/**
 * What a loader is told about the call it serves, and how it shapes what is stored: options derived
 * from the value (`setTtl`, `setGrace`, `setTags`), not storing it (`skip`), reporting a failure
 * (`fail`), and conditional refresh (`etag`, `lastModified`, `setEtag`, `setLastModified`,
 * `notModified`). The setters apply to this load only and may be called any number of times.
 */
export interface LoaderContext<T> {
  /** The key relative to the prefix. */
  key: string
  /** The stale value being refreshed, if any. */
  stale?: T
  /** The ETag stored with the stale value (see setEtag), if any. */
  etag?: string
  /** The Last-Modified stored with the stale value (see setLastModified), if any. */
  lastModified?: Date
  /** True for an early refresh (XFetch) that nobody is waiting for. */
  background: boolean
  /** Freshness of this value, instead of the call's ttl (or the key's rule, or the adaptive TTL). */
  setTtl(ttl: Duration): void
  /** Grace of this value, instead of the call's (`false` = none). */
  setGrace(grace: Duration | false): void
  /**
   * Adds tags to this value, besides the call's `tags` (validated as they are). An invalidation of one
   * of them counts from this call on: call it before reading the source when the tags are known then.
   */
  setTags(tags: readonly string[]): void
  /** Return the value to the callers, but do not cache it (e.g. an error page, a private response). */
  skip(): void
  /** The same as skip(). */
  noStore(): void
  /**
   * This load failed: callers get the stale value (fail-safe) when there is one, else `error` (or a
   * LoaderFailedError). Throws, so `return ctx.fail()` ends the loader.
   */
  fail(error?: unknown): never
  /** Stores `etag` with the value; the next refresh finds it in `ctx.etag` (for `If-None-Match`). */
  setEtag(etag: string): void
  /** Stores a Last-Modified date with the value; the next refresh finds it in `ctx.lastModified`. */
  setLastModified(date: Date | number | string): void
  /**
   * The source says the stale value is still current (an HTTP 304): it is stored again with a new
   * ttl, its bytes copied as they are (nothing is serialised again), and returned. Throws a
   * LoaderFailedError when there is no stale value.
   */
  notModified(): T
  /**
   * Aborts when no caller waits for this load any more (every one that waited gave a signal and
   * aborted it); never while one still does. Hand it to fetch or your database driver to stop work
   * nobody wants. A loader that ignores it finishes, and its value is cached.
   */
  readonly signal: AbortSignal
}

/** Produces the value of a key on a miss. Must not resolve `undefined` (use `null`). */
export type Loader<T> = (context: LoaderContext<T>) => Promise<T> | T

/**
 * The part of the loader context that applies to a whole getOrSetMany batch (every key it stores), and
 * the caller's signal (a never-aborted one when it gave none).
 */
export type BatchLoaderContext = Pick<
  LoaderContext<unknown>,
  'setTtl' | 'setGrace' | 'setTags' | 'skip' | 'noStore' | 'fail' | 'signal'
>

/**
 * getOrSetMany's loader: the missing keys (relative to the view) and the batch's context. Resolves a
 * Map, a record by key, or an array in the order of `missing`.
 */
export type BatchLoader<T> = (
  missing: string[],
  ctx: BatchLoaderContext,
) => Promise<Map<string, T> | Record<string, T> | T[]>

/**
 * The public engine, as returned by createCache(). Keys are strings relative to the prefix (up to
 * 1 KB; keys starting with `__` are reserved). Values answered from the cache are deep-frozen and
 * shared by every caller (copy before changing one: `structuredClone(value)`).
 */
export interface CacheApi {
  /** The prefix every Redis key of this cache starts with (`'cache'` → `cache:…`). */
  readonly prefix: string
  /** The key prefix a namespace view adds ('' at the root, 'users:' for namespace('users')). */
  readonly scope: string
  /**
   * Cache-aside: the value of `key` from L1, then Redis; on a miss, runs `loader` once per key across
   * every process sharing the Redis (single-flight + distributed lock), stores and returns its value.
   * A stale value (within `grace`) is served when the loader fails or passes `timeouts.soft`. Redis
   * trouble never reaches the caller; the loader's own error does when no stale value exists.
   * @throws InvalidKeyError, InvalidOptionError (before the loader runs), UndefinedValueError,
   * LoaderTimeoutError, or the loader's error.
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: CallOptions): Promise<T>
  /**
   * getOrSet, answering how the value was obtained as well (hit, stale, miss; from L1, Redis or the
   * loader; shared with other callers): what an adapter needs to label its answer. Counted once, as
   * getOrSet is.
   */
  getOrSetResult<T>(key: string, loader: Loader<T>, options?: CallOptions): Promise<CacheResult<T>>
  /**
   * Redis' own figures (memory, version, uptime, clients, ops/s, evictions, DBSIZE) read through the
   * cache's connection, within its deadline and circuit breaker; undefined without Redis or when it
   * does not answer. What the admin API and the metrics show.
   */
  redisFigures(): Promise<RedisFigures | undefined>
  /** The fresh value of `key`, or `undefined`; `allowStale` also answers a stale value within grace. */
  get<T>(key: string, options?: GetOptions<T>): Promise<T | undefined>
  /**
   * Stores `value` in L1 and Redis and tells other instances to drop their L1 copy. Resolves `false`
   * when Redis did not take it (down, value over `l2.maxValueBytes`); never rejects for Redis trouble.
   */
  set<T>(key: string, value: T, options?: StoreOptions): Promise<boolean>
  /** Invalidates `key` everywhere (a versioned tombstone, so no load in flight writes it back). */
  delete(key: string): Promise<boolean>
  /** delete() for many keys in one round trip; resolves how many existed. */
  deleteMany(keys: readonly string[]): Promise<number>
  /** True when `key` holds a fresh value. */
  has(key: string): Promise<boolean>
  /** Sets a new freshness for an existing entry; `false` when there is none. */
  expire(key: string, ttl: Duration): Promise<boolean>
  /** Remaining freshness in ms, undefined when absent. */
  ttl(key: string): Promise<number | undefined>
  /** Fresh values of many keys in one round trip, in the order asked (`undefined` for a miss). */
  getMany<T>(keys: readonly string[], options?: ManyOptions<T>): Promise<(T | undefined)[]>
  /** set() for many entries in one pipeline; one boolean per item. */
  setMany<T>(items: ReadonlyArray<{ key: string; value: T } & StoreOptions>): Promise<boolean[]>
  /**
   * Reads all keys in one round trip, calls `loadMissing` once with only the missing ones, stores
   * what it returns (a Map, a record by key, or an array in the order of `missing`) and answers in the
   * order asked. A key the loader leaves out answers `undefined` and is not cached. The loader's `ctx`
   * sets the ttl, grace and extra tags of the whole batch, or skips storing it.
   */
  getOrSetMany<T>(
    keys: readonly string[],
    loadMissing: BatchLoader<T>,
    options?: ManyLoadOptions<T>,
  ): Promise<(T | undefined)[]>
  /**
   * Memoizes an async function: one key per distinct argument list (`fn:<name>:<hash of the
   * arguments>`, or `options.key`). The function must be named, or `key` given. `derive(value, ctx)`
   * sets options from the result (ctx.setTtl, setTags, skip…).
   */
  wrap<A extends unknown[], R>(
    fn: (...args: A) => Promise<R>,
    options?: WrapOptions<A, R>,
  ): (...args: A) => Promise<R>
  /**
   * Invalidates every entry carrying one of `tags`, in every instance; resolves how many. `mode`
   * 'delete' (default) removes them; 'expire' keeps each as a stale fail-safe copy (fresh until now,
   * grace kept), so the next read serves it while refreshing.
   */
  invalidateTags(tags: readonly string[], options?: { mode?: 'delete' | 'expire' }): Promise<number>
  /**
   * One page of the keys of the live entries carrying `tag` (within this namespace). Start with cursor
   * '0'; done when it comes back '0'; a page may be shorter than `limit` (1..1000, default 100).
   */
  tagKeys(
    tag: string,
    options?: { cursor?: string; limit?: number },
  ): Promise<{ keys: string[]; cursor: string }>
  /** How many live entries carry `tag` (within this namespace): what invalidateTags would count. */
  tagCount(tag: string): Promise<number>
  /** Adds tags to the entry stored under `key`, value and lifetimes kept; false when there is none. */
  addTags(key: string, tags: readonly string[]): Promise<boolean>
  /** Glob pattern relative to the prefix ('dashboard:*'); SCAN + tombstones, never KEYS. */
  deleteByPattern(pattern: string): Promise<number>
  /** Counts (and samples) what deleteByPattern would delete. */
  countByPattern(pattern: string, sampleSize?: number): Promise<{ count: number; sample: string[] }>
  /** Deletes only this cache's keys (and only this namespace's, on a namespace). Never FLUSHDB. */
  clear(): Promise<number>
  /**
   * A view whose keys live under `${scope}${name}:`; its clear() clears only that namespace. A `schema`
   * (and `migrate`) given here checks every read of the view that gives none of its own; nested views
   * keep it.
   */
  namespace(name: string, options?: SchemaOptions): CacheApi
  /** One page of keys under the prefix (admin key browser). */
  keys(options?: {
    pattern?: string
    cursor?: string
    limit?: number
  }): Promise<{ keys: KeyInfo[]; cursor: string }>
  /** The decoded entry of `key` with its state, tags, timestamps and size; undefined when absent. */
  inspect(key: string): Promise<KeyDetails | undefined>
  /** Counters since start (or resetStats()), for the whole cache, per tier and per namespace. */
  stats(): CacheStats
  /** Sets every counter of stats() back to zero. */
  resetStats(): void
  /** Redis latency and memory against the thresholds: healthy, degraded (> 100 ms, > 90 %) or unhealthy. */
  health(): Promise<CacheHealth>
  /** Listens to an event (hit, miss, stale, set, error, invalidate, load, lock-wait, circuit, redis…). */
  on<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): this
  /** Removes a listener added with on(). */
  off<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): this
  /** Waits for background writes, closes the connections cachet opened. */
  close(): Promise<void>
}
