import type { CacheApi } from '../core/cache-api.js'
import type { Duration } from '../core/duration.js'
import type { RedisInput } from '../core/options.js'

/** A zod-like schema: anything with `safeParse` (zod 3/4, valibot adapters…). */
export interface EntitySchema<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: unknown }
}

/** Where the entity cache connects: a URL, ioredis options, or an ioredis client you own. */
export type EntityRedisInput = Exclude<RedisInput, false>

/** Options of createEntityCache(). */
export interface EntityCacheOptions<T> {
  /** The Redis connection; a client you pass stays open on close(). Give this or `cache`. */
  redis?: EntityRedisInput
  /**
   * A cache made by createCache() whose Redis the entities share: its connection, its deadline
   * (`l2.timeout`) and its circuit breaker, so Redis trouble seen by either opens the circuit for both.
   * Left open on close(). Give this or `redis`.
   */
  cache?: CacheApi
  /**
   * Namespace of every key, `${prefix}:${entity}:${id}`. The default lies in the engine's reserved `__`
   * space, so no engine invalidation, pattern delete, clear() or user key can reach an entity.
   * `''` gives the seed system's exact names, `user:profile:{id}`, so a Redis that already holds its
   * hashes is read as is. `'cache'` gives `cache:user:profile:{id}`, which an engine invalidation of
   * `user:*` matches: it leaves the hashes alone, but an engine clear() removes them.
   * @default 'cache:__entity'
   */
  prefix?: string
  /** Entity name, the middle of the key `${prefix}:${entity}:${id}`. @default 'user:profile' */
  entity?: string
  /** Lifetime of a cached entity (and of a deletion tombstone). @default '7d' */
  ttl?: Duration
  /** Deadline of one Redis round trip (with `redis`; with `cache`, the engine's applies). @default '100ms' */
  timeout?: Duration
  /** Validates and types entities read back from Redis; a value it rejects counts as a miss. */
  schema?: EntitySchema<T>
  /** Only these fields are stored (all own enumerable fields when unset). */
  fields?: readonly string[]
  /** HTTP fallback: loads one entity from its owning service; null = does not exist. */
  fetchOne?: (id: string) => Promise<T | null>
  /**
   * Loads many entities in one call (e.g. the owning service's `GET /batch?ids=`); absent ids are simply
   * not returned.
   */
  fetchMany?: (ids: string[]) => Promise<T[]>
  /** The id of an entity. @default (e) => String(e.id) */
  idOf?: (entity: T) => string
  /** The version of an entity (a number that grows with each change). @default updatedAt as ms, when present */
  versionOf?: (entity: T) => number | undefined
}

/** Counters of one entity cache. */
export interface EntityCacheStats {
  hits: number
  misses: number
  /** Calls to fetchOne / fetchMany. */
  fallbacks: number
  /** Redis failures (timeouts, refused calls, corrupt hashes) and failed background writes. */
  errors: number
  /** Writes refused because Redis held a newer version. */
  staleWrites: number
  hitRate: number
}

/** Outcome of warm(): how many ids are now cached, how many were loaded, and the ids the source lacks. */
export interface WarmResult {
  cached: number
  fetched: number
  missing: string[]
}

/** A cache of entities stored as Redis hashes, with a version field that orders writes. */
export interface EntityCache<T> {
  /** The Redis key of an entity. */
  keyOf(id: string): string
  /** HGETALL; on a miss, fetchOne (single-flight per id) and store. null = the entity does not exist. */
  get(id: string): Promise<T | null>
  /** HMGET of some fields; on a miss, falls back to get(). */
  getFields<K extends keyof T & string>(id: string, fields: readonly K[]): Promise<Pick<T, K> | null>
  /** One pipeline for all ids; misses loaded with one fetchMany call and stored in one pipeline. */
  batchGet(ids: readonly string[]): Promise<Map<string, T>>
  /** Writes the whole entity unless Redis holds a newer version. Resolves true when written. */
  set(entity: T, options?: { version?: number }): Promise<boolean>
  /** Without a version: drops the entity. With one: leaves a tombstone that older writes cannot pass. */
  invalidate(id: string, options?: { version?: number }): Promise<boolean>
  /** Loads the ids not yet cached with fetchMany and stores them, waiting for the write (prewarmer). */
  warm(ids: readonly string[]): Promise<WarmResult>
  /** Drops every entity of this namespace (SCAN + UNLINK). Resolves the number of keys removed. */
  clear(): Promise<number>
  /** Resolves when the background writes of fallback loads have settled. */
  settle(): Promise<void>
  stats(): EntityCacheStats
  /** Waits for background writes, then closes the connection if the cache opened it. */
  close(): Promise<void>
}
