import type { Redis, RedisOptions } from 'ioredis'
import type { Duration } from '../core/duration.js'
import type { EntityEvent } from './stream-events.js'
import type { ResetReason } from './stream-health.js'
import type { EntityCache } from './types.js'

/** Applies one event; resolving false means "already newer" (counted as stale), a throw leaves it pending. */
export type EntityEventHandler<T> = (
  event: EntityEvent,
  entityCache: EntityCache<T>,
) => Promise<unknown> | unknown

/** Options of createStreamConsumer(). */
export interface StreamConsumerOptions<T> {
  /** Redis holding the stream (standalone). A client you pass stays open; a blocking copy of it is made. */
  redis: string | RedisOptions | Redis
  /** @default 'events:users' */
  stream?: string
  /** Consumer group: one per service that keeps its own cache in sync. */
  group: string
  /** This instance's name within the group (stable across restarts, so it resumes its own pending entries). */
  consumer: string
  entityCache: EntityCache<T>
  /** Handlers by event type; they replace the defaults (created/updated → set, deleted → tombstone). */
  handlers?: Record<string, EntityEventHandler<T>>
  /** Pending entries idle this long are claimed from their (crashed) consumer. @default '30s' */
  minIdle?: Duration
  /** @default `${stream}:dlq` */
  deadLetter?: string
  /** Deliveries after which a failing entry goes to the dead-letter stream. @default 5 */
  maxDeliveries?: number
  /** Entries per read. @default 100 */
  batchSize?: number
  /** How long one XREADGROUP blocks; also bounds how late stop() and health checks run. @default '1s' */
  block?: Duration
  /** How often the stream is checked for a reset or a trim loss, and lag is sampled. @default '1s' */
  checkInterval?: Duration
  /** Where a newly created group starts ('$' = new events only, '0' = the whole stream). @default '$' */
  startId?: string
  /** Deadline of non-blocking stream commands (XACK, XAUTOCLAIM, XINFO…). @default '1s' */
  timeout?: Duration
}

/** Counters and the last sampled group state of a consumer. */
export interface StreamConsumerStats {
  running: boolean
  delivered: number
  applied: number
  /** Events a version check turned into no-ops (duplicates, out-of-order). */
  stale: number
  /** Events of a type no handler takes; acked and skipped. */
  ignored: number
  failed: number
  acked: number
  claimed: number
  deadLettered: number
  resets: number
  errors: number
  /** From XINFO GROUPS (Redis 7): entries not yet delivered; null when unknown. Trimmed entries stay counted. */
  lag: number | null
  entriesRead: number | null
  pending: number | null
  lastDeliveredId: string | null
}

/** Events of a consumer. */
export interface StreamConsumerEvents {
  reset: { reason: ResetReason; flushed: number }
  'dead-letter': { id: string; reason: string; deliveries: number }
  error: { error: unknown }
}

/** A running stream consumer (the `UserStreamConsumer` it replaces). */
export interface StreamConsumer {
  /** Creates the group if needed (XGROUP CREATE … MKSTREAM) and starts consuming. */
  start(): Promise<void>
  /** Stops reading; the entry being applied finishes and is acked, unread deliveries stay pending. */
  stop(): Promise<void>
  stats(): StreamConsumerStats
  on<E extends keyof StreamConsumerEvents>(
    event: E,
    listener: (payload: StreamConsumerEvents[E]) => void,
  ): void
}
