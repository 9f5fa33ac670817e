import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { toMs } from '../core/duration.js'
import { InvalidOptionError } from '../core/errors.js'
import { connectRedis } from '../tiers/redis/client.js'
import type {
  EntityEventHandler,
  StreamConsumer,
  StreamConsumerEvents,
  StreamConsumerOptions,
  StreamConsumerStats,
} from './stream-consumer-types.js'
import { type EntityEvent, parseEntityEvent } from './stream-events.js'
import { createGroup, PendingFirstReader } from './stream-group.js'
import { type HealthMemory, inspectStream, judgeStream, type ResetReason } from './stream-health.js'
import {
  claimIdle,
  deadLetterExhausted,
  moveToDeadLetter,
  type RecoveryTarget,
  type StreamEntry,
} from './stream-recovery.js'
import type { EntityCache } from './types.js'

const RETRY_MS = 250

/**
 * Keeps an entity cache in sync from a Redis stream with a consumer group (the `UserStreamConsumer` it
 * replaces; docs/reliability.md X1–X5): at-least-once (ack after apply, XAUTOCLAIM of crashed
 * consumers' entries), idempotent (version-checked writes), poison entries dead-lettered, and a Redis
 * reset or trim loss answered by flushing the namespace (the owning service is the source of truth).
 */
export function createStreamConsumer<T>(options: StreamConsumerOptions<T>): StreamConsumer {
  const stream = options.stream ?? 'events:users'
  const { group, consumer, entityCache } = options
  if (!group || !consumer) throw new InvalidOptionError('group and consumer are required')
  const maxDeliveries = options.maxDeliveries ?? 5
  const batchSize = options.batchSize ?? 100
  if (!(maxDeliveries >= 1) || !(batchSize >= 1))
    throw new InvalidOptionError('maxDeliveries and batchSize must be ≥ 1')
  const minIdleMs = toMs(options.minIdle ?? '30s', 'minIdle')
  const blockMs = toMs(options.block ?? '1s', 'block')
  const checkMs = toMs(options.checkInterval ?? '1s', 'checkInterval')
  const timeoutMs = toMs(options.timeout ?? '1s', 'timeout')
  // A crashed consumer's entries come back after min-idle plus at most half of it.
  const claimEveryMs = Math.max(50, Math.min(minIdleMs / 2, 10_000))

  const connection = connectRedis(options.redis, { timeoutMs })
  const client = connection.client as Redis
  // Blocking reads get their own connection: the data connection's short deadline would cut them off.
  const blocking = client.duplicate({
    commandTimeout: blockMs + timeoutMs,
    socketTimeout: blockMs + 2 * timeoutMs + 1_000,
    enableOfflineQueue: true,
  })
  blocking.on('error', () => {})

  const target: RecoveryTarget = {
    client,
    stream,
    group,
    consumer,
    deadLetter: options.deadLetter ?? `${stream}:dlq`,
    minIdleMs,
    maxDeliveries,
  }
  const handlers = options.handlers
  const listeners = new Map<keyof StreamConsumerEvents, Set<(payload: never) => void>>()
  const stats: StreamConsumerStats = {
    running: false,
    ...{ delivered: 0, applied: 0, stale: 0, ignored: 0, failed: 0, acked: 0, claimed: 0 },
    ...{ deadLettered: 0, resets: 0, errors: 0 },
    ...{ lag: null, entriesRead: null, pending: null, lastDeliveredId: null },
  }
  let memory: HealthMemory = {}
  let nextClaimAt = 0
  let nextCheckAt = 0
  let loop: Promise<void> | undefined

  const emit = <E extends keyof StreamConsumerEvents>(event: E, payload: StreamConsumerEvents[E]) => {
    for (const listener of listeners.get(event) ?? []) {
      try {
        ;(listener as (p: StreamConsumerEvents[E]) => void)(payload)
      } catch {
        // A throwing listener must not stop the consumer.
      }
    }
  }

  const handlerFor = (event: EntityEvent): EntityEventHandler<T> | undefined =>
    handlers ? handlers[event.type] : defaultHandler(event.type)

  /** Applies entries in order, then acks the applied ones in one XACK. Failed ones stay pending. */
  const process = async (entries: StreamEntry[]) => {
    const done: string[] = []
    for (const entry of entries) {
      stats.delivered++
      const parsed = parseEntityEvent(entry[1])
      const problem = 'error' in parsed ? parsed.error : unusable(parsed.event, handlers === undefined)
      if (problem !== undefined) {
        await moveToDeadLetter(target, entry, `unparseable: ${problem}`, 1)
        stats.deadLettered++
        emit('dead-letter', { id: entry[0], reason: problem, deliveries: 1 })
        continue
      }
      const event = (parsed as { event: EntityEvent }).event
      const handler = handlerFor(event)
      if (!handler) {
        stats.ignored++
        done.push(entry[0])
        continue
      }
      try {
        const result = await handler(event, entityCache as EntityCache<T>)
        if (result === false) stats.stale++
        stats.applied++
        done.push(entry[0])
      } catch (error) {
        stats.failed++
        emit('error', { error })
      }
    }
    if (done.length > 0) stats.acked += await client.xack(stream, group, ...done)
  }

  const reset = async (reason: ResetReason) => {
    stats.resets++
    const flushed = await entityCache.clear()
    // Entries added since the restart are all new to us: the re-created group reads from the start.
    if (reason !== 'entries-trimmed') {
      await createGroup(client, stream, group, '0')
      memory = {}
    }
    emit('reset', { reason, flushed })
  }

  const housekeeping = async () => {
    const now = Date.now()
    if (now >= nextCheckAt) {
      nextCheckAt = now + checkMs
      const info = await inspectStream(client, stream, group)
      if (info?.group) {
        Object.assign(stats, {
          lag: info.group.lag,
          entriesRead: info.group.entriesRead,
          pending: info.group.pending,
          lastDeliveredId: info.group.lastDeliveredId,
        })
      }
      const reason = judgeStream(info, memory)
      if (reason) await reset(reason)
    }
    if (now >= nextClaimAt) {
      nextClaimAt = now + claimEveryMs
      for (const { id, deliveries } of await deadLetterExhausted(target)) {
        stats.deadLettered++
        emit('dead-letter', { id, reason: 'max-deliveries', deliveries })
      }
      const { entries, deleted } = await claimIdle(target)
      stats.claimed += entries.length
      if (entries.length > 0) await process(entries)
      // Pending entries trimmed before anyone acked them: their changes may never reach the cache.
      if (deleted.length > 0) await reset('entries-trimmed')
    }
  }

  const run = async () => {
    const entries = new PendingFirstReader(target, batchSize, blockMs)
    while (stats.running) {
      try {
        await housekeeping()
        await process(await entries.next(blocking))
      } catch (error) {
        if (!stats.running) break
        if (error instanceof Error && error.message.startsWith('NOGROUP')) {
          await reset('group-missing').catch(() => {})
          entries.restart()
          continue
        }
        stats.errors++
        emit('error', { error })
        await sleep(RETRY_MS)
      }
    }
  }

  return {
    async start() {
      if (stats.running) return
      await createGroup(client, stream, group, options.startId ?? '$')
      stats.running = true
      loop = run()
    },
    async stop() {
      if (!stats.running && !loop) {
        // Never started (or start failed): its connections are still open.
        blocking.disconnect()
        await connection.close()
        return
      }
      stats.running = false
      // Cuts a blocked XREADGROUP short; entries it delivered stay pending and are claimed later.
      blocking.disconnect()
      await loop
      loop = undefined
      await connection.close()
    },
    stats: () => ({ ...stats }),
    on(event, listener) {
      const set = listeners.get(event) ?? new Set()
      set.add(listener as (payload: never) => void)
      listeners.set(event, set)
    },
  }
}

// `user.profile.updated`, or the seed system's bare `updated`.
const UPSERT = /(^|\.)(created|updated)$/
const DELETE = /(^|\.)deleted$/

/** created/updated → version-checked set; deleted → tombstone (or plain drop without a version). */
function defaultHandler<T>(type: string): EntityEventHandler<T> | undefined {
  if (UPSERT.test(type)) {
    return (event, cache) => {
      const payload = event.payload as Record<string, unknown>
      const entity = (payload.id === undefined ? { ...payload, id: event.id } : payload) as T
      return cache.set(entity, event.version === undefined ? {} : { version: event.version })
    }
  }
  if (DELETE.test(type)) {
    return async (event, cache) => {
      // Without a version there is nothing to order against: drop the entity (no stale count).
      if (event.version === undefined) await cache.invalidate(event.id)
      else return cache.invalidate(event.id, { version: event.version })
    }
  }
  return undefined
}

/** A created/updated event without an object payload can never be applied by the default handlers. */
function unusable(event: EntityEvent, defaults: boolean): string | undefined {
  if (!defaults || !UPSERT.test(event.type)) return undefined
  const payload = event.payload
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
    ? undefined
    : 'payload is not an object'
}
