import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { createGroup, fieldRecord, PendingFirstReader } from '../entities/stream-group.js'
import { inspectStream } from '../entities/stream-health.js'
import {
  claimIdle,
  deadLetterExhausted,
  type RecoveryTarget,
  type StreamEntry,
} from '../entities/stream-recovery.js'
import { type CacheApi, InvalidOptionError } from '../index.js'
import { tableTag } from './query-key.js'
import { tableName } from './table-name.js'

/** An entry's fields as an object: `XADD s * event order.created id 42` → { event: 'order.created', id: '42' }. */
export type InvalidationEntry = Record<string, string>

/** What an event invalidates: tags as written (`table:<name>` is normalised like a SQL table name), or tables and tags. */
export type InvalidationTargets = readonly string[] | { tables?: readonly string[]; tags?: readonly string[] }

/** Fixed targets, or a function of the entry (throwing or returning nothing marks the entry malformed). */
export type InvalidationRule = InvalidationTargets | ((entry: InvalidationEntry) => InvalidationTargets)

export interface InvalidationStreamOptions {
  cache: CacheApi
  /** ioredis client for the stream; a duplicate does the blocking reads. */
  redis: Redis
  stream: string
  group: string
  consumer: string
  /** Event name (field `event`, else `type`) → what it invalidates. */
  events: Record<string, InvalidationRule>
  /** Where entries that failed `maxDeliveries` times go. Default `<stream>:dead`. */
  deadLetter?: string
  /** Deliveries before a malformed entry is dead-lettered. Default 5. */
  maxDeliveries?: number
  /** Pending entries idle this long are claimed (a crashed consumer's, or our failed ones). Default 30 000 ms. */
  minIdleMs?: number
  /** XREADGROUP BLOCK; also the longest `stop()` waits. Default 1000 ms. */
  blockMs?: number
  batchSize?: number
  /** Where the group starts when it is created. Default `$` (only new entries). */
  startId?: string
}

export interface InvalidationStreamStats {
  running: boolean
  /** Entries acked after their invalidation (or ignored: an event with no rule). */
  processed: number
  /** Tags passed to `invalidateTags()`. */
  invalidated: number
  /** Well-formed entries whose event has no rule: acked without invalidating. */
  ignored: number
  /** Deliveries of entries that could not be mapped to tags; they stay pending until dead-lettered. */
  malformed: number
  deadLettered: number
  /** Entries taken over with XAUTOCLAIM. */
  claimed: number
  errors: number
}

export interface InvalidationStreamHealth extends InvalidationStreamStats {
  /** Entries not yet delivered to the group (XINFO GROUPS `lag`), null when Redis cannot tell. */
  lag: number | null
  /** Entries delivered but not acked. */
  pending: number | null
}

export interface InvalidationStream {
  start(): Promise<void>
  /** Finishes the batch in hand (invalidate, ack), then stops reading. */
  stop(): Promise<void>
  stats(): InvalidationStreamStats
  health(): Promise<InvalidationStreamHealth>
}

const RETRY_MS = 200

/** Invalidates cached queries and tags from events on a Redis Stream (docs/sql.md, "Invalidation from a stream"). */
export function createInvalidationStream(options: InvalidationStreamOptions): InvalidationStream {
  const { cache, redis: client, stream, group, consumer, events } = options
  for (const [name, rule] of Object.entries(events)) {
    if (typeof rule !== 'function' && toTags(rule) === undefined) {
      throw new InvalidOptionError(`events['${name}'] must be tags, { tables, tags } or a function`)
    }
  }
  const target: RecoveryTarget = {
    client,
    stream,
    group,
    consumer,
    deadLetter: options.deadLetter ?? `${stream}:dead`,
    minIdleMs: options.minIdleMs ?? 30_000,
    maxDeliveries: options.maxDeliveries ?? 5,
  }
  const blockMs = options.blockMs ?? 1000
  const batchSize = options.batchSize ?? 100
  const stats: InvalidationStreamStats = {
    running: false,
    processed: 0,
    invalidated: 0,
    ignored: 0,
    malformed: 0,
    deadLettered: 0,
    claimed: 0,
    errors: 0,
  }
  let blocking: Redis | undefined
  let loop: Promise<void> | undefined
  let lastHousekeeping = 0

  /** The tags an entry invalidates; null for an event with no rule; undefined when malformed. */
  const tagsOf = (fields: string[]): string[] | null | undefined => {
    const entry: InvalidationEntry = fieldRecord(fields)
    const name = entry.event ?? entry.type
    if (!name) return undefined
    const rule = Object.hasOwn(events, name) ? events[name] : undefined
    if (rule === undefined) return null
    try {
      return toTags(typeof rule === 'function' ? rule(entry) : rule)
    } catch {
      return undefined
    }
  }

  /** Invalidates then acks each entry; a failed one stays pending and is claimed again later. */
  const process = async (entries: StreamEntry[]) => {
    for (const entry of entries) {
      const [id, fields] = entry
      const tags = tagsOf(fields)
      if (tags === undefined) {
        stats.malformed++
        continue
      }
      try {
        if (tags === null) stats.ignored++
        else if (tags.length > 0) {
          await cache.invalidateTags(tags)
          stats.invalidated += tags.length
        }
        await client.xack(stream, group, id)
        stats.processed++
      } catch {
        stats.errors++
      }
    }
  }

  const housekeeping = async () => {
    const now = Date.now()
    if (now - lastHousekeeping < Math.min(target.minIdleMs, 5000)) return
    lastHousekeeping = now
    stats.deadLettered += (await deadLetterExhausted(target)).length
    const { entries } = await claimIdle(target)
    stats.claimed += entries.length
    await process(entries)
  }

  const startId = options.startId ?? '$'

  const run = async (reader: Redis) => {
    const entries = new PendingFirstReader(target, batchSize, blockMs)
    while (stats.running) {
      try {
        await housekeeping()
        await process(await entries.next(reader))
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('NOGROUP')) {
          // The stream or group was deleted: recreate it and start over from our pending entries.
          await createGroup(client, stream, group, startId).catch(() => {})
          entries.restart()
          continue
        }
        stats.errors++
        if (stats.running) await sleep(RETRY_MS)
      }
    }
  }

  return {
    async start() {
      if (stats.running) return
      await createGroup(client, stream, group, startId)
      blocking = client.duplicate()
      stats.running = true
      loop = run(blocking)
    },
    async stop() {
      if (!stats.running) return
      stats.running = false
      // No disconnect: the read returns within blockMs and its entries are invalidated and acked.
      await loop
      loop = undefined
      blocking?.disconnect()
      blocking = undefined
    },
    stats: () => ({ ...stats }),
    async health() {
      // Redis unreachable, no stream or no group yet: unknown.
      const info = await inspectStream(client, stream, group).catch(() => undefined)
      return { ...stats, lag: info?.group?.lag ?? null, pending: info?.group?.pending ?? null }
    },
  }
}

/** Rule targets → tags; undefined when they are not a list of strings or { tables, tags }. */
function toTags(targets: unknown): string[] | undefined {
  const strings = (value: unknown): value is string[] =>
    Array.isArray(value) && value.every((item) => typeof item === 'string' && item.length > 0)
  const tables = (names: string[]) => names.map((name) => tableTag(tableName(name)))
  if (strings(targets)) {
    return targets.map((tag) => (tag.startsWith('table:') ? tables([tag.slice('table:'.length)])[0]! : tag))
  }
  if (typeof targets !== 'object' || targets === null) return undefined
  const { tables: names = [], tags = [] } = targets as { tables?: unknown; tags?: unknown }
  if (!(strings(names) || (Array.isArray(names) && names.length === 0))) return undefined
  if (!(strings(tags) || (Array.isArray(tags) && tags.length === 0))) return undefined
  return [...tables(names), ...tags]
}
