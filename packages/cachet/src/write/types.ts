import type { Redis } from 'ioredis'
import type { CacheApi } from '../core/cache-api.js'
import type { Duration } from '../core/duration.js'
import type { WriteThroughOptions } from './write-through.js'

/** One key's change, as flush() gets it: the writes of that key in the batch, coalesced. */
export interface FlushItem<V> {
  key: string
  /** The last value written (or, with `merge`, every value of the batch merged in order). */
  value: V
  /** Stream id of the last write covered. */
  id: string
  /**
   * The same id as one increasing integer (ms × 1,000,000 + sequence): store it with the row and apply
   * an item only over a smaller one, so a redelivered item is a no-op.
   */
  version: bigint
  /** Every journal entry this item covers, oldest first. */
  ids: string[]
}

export interface WriteBehindOptions<V> {
  /** Read-your-writes: every write updates this cache (write-through rules) before write() resolves. */
  cache: CacheApi
  /**
   * The journal: an ioredis client on a Redis that keeps what it acknowledges (`appendonly yes`,
   * `maxmemory-policy noeviction`; checked at start). Not the cache's evicting Redis. Left open by stop().
   */
  journal: Redis
  /**
   * The database write of one batch. Must be idempotent (apply an item only if its `version` is newer
   * than the row's): an item is delivered at least once. Throw to have the batch retried.
   */
  flush: (batch: FlushItem<V>[]) => Promise<void>
  /**
   * Also refuse a journal Redis without `appendfsync always`: only then does an acknowledged write
   * survive any crash (docs/write-behind.md). @default false (everysec accepted, reported in health)
   */
  requireFsyncAlways?: boolean
  /** Stream key of the journal. @default 'cachet:write-behind' */
  stream?: string
  /** Consumer group of the flushers. @default 'flushers' */
  group?: string
  /** This flusher's name in the group (unique per process). @default host-pid-random */
  consumer?: string
  /** Most journal entries per flush() call. @default 500 */
  batchSize?: number
  /** How long a write waits for others to fill its batch. @default '1s' */
  interval?: Duration
  /** Folds two values of one key (older first) instead of keeping the last: e.g. `(a, b) => a + b` for counters. */
  merge?: (older: V, newer: V) => V
  /** Failed flushes of an item before it is tried alone and, if others still succeed, dead-lettered. @default 5 */
  maxAttempts?: number
  /** Backoff between retries: doubles from `min` up to `max`. @default { min: '100ms', max: '10s' } */
  backoff?: { min?: Duration; max?: Duration }
  /** A flusher's entries left unacked this long are taken over by another (it crashed). @default '30s' */
  claimIdle?: Duration
  /** Run the flusher in this process; false = only write (another process flushes). @default true */
  flusher?: boolean
  /** The longest stop() waits for the backlog to drain. @default '30s' */
  drainTimeout?: Duration
  /** Largest serialized value write() journals; a larger one is refused (SerializationError). @default 1 MiB */
  maxValueBytes?: number
  /** ttl, grace and tags of the cache entries write() stores. */
  cacheOptions?: WriteThroughOptions
}

/** What health() reports. */
export interface WriteBehindHealth {
  status: 'healthy' | 'degraded' | 'unhealthy'
  /** Journal entries not yet in the database. */
  backlog: number
  /** Age of the oldest of them, in ms (0 when none). */
  backlogAgeMs: number
  /** Journal entries flushed per second over the last 10 s. */
  flushRate: number
  flushed: number
  /** flush() calls that threw. */
  failures: number
  deadLettered: number
  lastError?: string
  journal: { aof: boolean; appendfsync: string; maxmemoryPolicy: string }
  reasons: string[]
}

export interface WriteBehind<V> {
  /**
   * Journals the write, updates the cache, and resolves once Redis acknowledged the journal entry
   * (what that survives: docs/write-behind.md). Resolves the entry id.
   */
  write(key: string, value: V): Promise<string>
  health(): Promise<WriteBehindHealth>
  /** Stops accepting writes, flushes what it can within `drainTimeout`, stops the flusher. */
  stop(): Promise<void>
}
