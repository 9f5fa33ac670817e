import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { errorMessage } from '../core/errors.js'
import { race } from '../core/timeouts.js'
import { createGroup, readGroup } from '../entities/stream-group.js'
import {
  claimIdle,
  moveToDeadLetter,
  type RecoveryTarget,
  type StreamEntry,
} from '../entities/stream-recovery.js'
import { coalesce } from './coalesce.js'
import { readJournalEntry } from './journal.js'
import type { FlushItem } from './types.js'

/** The flusher's settings, resolved. */
export interface FlusherSettings<V> {
  client: Redis
  stream: string
  group: string
  consumer: string
  batchSize: number
  intervalMs: number
  merge?: (older: V, newer: V) => V
  maxAttempts: number
  backoffMinMs: number
  backoffMaxMs: number
  claimIdleMs: number
  flush: (batch: FlushItem<V>[]) => Promise<void>
  /** Called with the keys of a batch once it is in the database, before the ack. */
  afterCommit: (keys: string[]) => Promise<unknown>
}

/** An item that failed, waiting for its next attempt. */
interface Unit<V> {
  item: FlushItem<V>
  /** Failed flushes of any batch holding it. */
  attempts: number
  /** Failed flushes of it alone. */
  alone: number
  firstFailedAt: number
  nextAt: number
}

const ERROR_PAUSE_MS = 250
const RATE_WINDOW_MS = 10_000
/** Longest a read blocks, so parked retries and claims are not held up by an idle stream. */
const MAX_BLOCK_MS = 200
/** Parked (failing) items beyond this many batches stop the reading of new entries. */
const PARKED_BATCHES = 10
/** Items tried alone before a batch whose every item fails is taken for an outage. */
const ISOLATION_PROBES = 3

/**
 * Moves journal entries to the database (docs/write-behind.md): reads them with a consumer group,
 * coalesces them per key, calls flush(), and acks (then deletes) them only after it resolved.
 * Failed items are retried with backoff while new entries keep flowing; an item still failing after
 * `maxAttempts` while other flushes succeed is dead-lettered. Entries of a crashed flusher are
 * claimed once idle for `claimIdleMs`; this flusher keeps its own entries from looking idle.
 */
export class Flusher<V> {
  readonly stats = {
    flushed: 0,
    failures: 0,
    deadLettered: 0,
    errors: 0,
    lastError: undefined as string | undefined,
  }
  #settings: FlusherSettings<V>
  #target: RecoveryTarget
  #blocking: Redis
  #held = new Map<string, StreamEntry>()
  #parked: Unit<V>[] = []
  #recent: Array<{ at: number; count: number }> = []
  #lastSuccessAt = 0
  #nextClaimAt = 0
  #running = false
  #draining = false
  #drained?: () => void
  #loop?: Promise<void>
  #refresh?: NodeJS.Timeout

  constructor(settings: FlusherSettings<V>) {
    this.#settings = settings
    this.#target = {
      client: settings.client,
      stream: settings.stream,
      group: settings.group,
      consumer: settings.consumer,
      deadLetter: `${settings.stream}:dead`,
      minIdleMs: settings.claimIdleMs,
      maxDeliveries: Number.POSITIVE_INFINITY,
    }
    // Blocking reads get their own connection, so writes on the journal connection never wait behind them.
    this.#blocking = settings.client.duplicate()
    this.#blocking.on('error', () => {})
  }

  start(): void {
    this.#running = true
    this.#refresh = setInterval(() => this.#keepHeld(), Math.max(50, this.#settings.claimIdleMs / 3))
    this.#refresh.unref()
    this.#loop = this.#run()
  }

  /** Journal entries flushed per second over the last 10 s. */
  rate(): number {
    const since = Date.now() - RATE_WINDOW_MS
    this.#recent = this.#recent.filter((sample) => sample.at >= since)
    return this.#recent.reduce((sum, sample) => sum + sample.count, 0) / (RATE_WINDOW_MS / 1000)
  }

  get parked(): number {
    return this.#parked.length
  }

  /** Flushes until nothing is left to read or retry, or `timeoutMs` passed; then stops. */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.#loop) return
    this.#draining = true
    await race(
      new Promise<void>((resolve) => {
        this.#drained = resolve
      }),
      timeoutMs,
    )
    this.#running = false
    clearInterval(this.#refresh)
    await this.#loop
    this.#loop = undefined
    this.#blocking.disconnect()
    await this.#leaveGroup().catch(() => {})
  }

  /** Removes this flusher from the group when it holds nothing, so names of past processes do not pile up. */
  async #leaveGroup(): Promise<void> {
    const { client, stream, group, consumer } = this.#settings
    const pending = (await client.xpending(stream, group, '-', '+', 1, consumer)) as unknown[]
    if (pending.length === 0) await client.xgroup('DELCONSUMER', stream, group, consumer)
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        const claimed = await this.#claim()
        const retried = await this.#retryDue()
        const entries =
          this.#parked.length < PARKED_BATCHES * this.#settings.batchSize ? await this.#read() : []
        if (entries.length > 0) await this.#process(entries)
        if (this.#draining && claimed + retried + entries.length === 0 && this.#parked.length === 0)
          this.#drained?.()
        else if (entries.length === 0 && retried === 0 && !this.#draining) await this.#pauseUntilDue()
      } catch (error) {
        if (!this.#running) break
        this.#failed(error)
        // The journal cannot be read now: what is left stays in it, for the next flusher.
        if (this.#draining) this.#drained?.()
        if (error instanceof Error && error.message.startsWith('NOGROUP'))
          await createJournalGroup(this.#settings.client, this.#settings.stream, this.#settings.group).catch(
            () => {},
          )
        await sleep(ERROR_PAUSE_MS)
      }
    }
  }

  /** Takes over entries another flusher left idle (it crashed or hangs). */
  async #claim(): Promise<number> {
    if (Date.now() < this.#nextClaimAt) return 0
    this.#nextClaimAt = Date.now() + Math.max(50, this.#settings.claimIdleMs / 2)
    const { entries } = await claimIdle(this.#target)
    const fresh = entries.filter(([id]) => !this.#held.has(id))
    const size = this.#settings.batchSize
    for (let i = 0; i < fresh.length; i += size) await this.#process(fresh.slice(i, i + size))
    return fresh.length
  }

  async #read(): Promise<StreamEntry[]> {
    const { batchSize, intervalMs } = this.#settings
    const entries: StreamEntry[] = []
    let deadline = Number.POSITIVE_INFINITY
    while (entries.length < batchSize) {
      const wait = entries.length === 0 ? Math.min(intervalMs, MAX_BLOCK_MS) : deadline - Date.now()
      if (entries.length > 0 && (wait <= 0 || this.#draining)) break
      const block = Math.max(1, Math.min(wait, MAX_BLOCK_MS))
      const got = await readGroup(this.#blocking, this.#settings, batchSize - entries.length, block, '>')
      if (got.length === 0 && entries.length === 0) break
      if (entries.length === 0) deadline = Date.now() + intervalMs
      entries.push(...got)
    }
    return entries
  }

  async #process(entries: StreamEntry[]): Promise<void> {
    const writes = []
    for (const entry of entries) {
      this.#held.set(entry[0], entry)
      const write = readJournalEntry(entry)
      if (typeof write === 'string') await this.#deadLetter([entry[0]], write, 1)
      else writes.push(write)
    }
    let items: FlushItem<V>[]
    try {
      items = coalesce<V>(writes, this.#settings.merge)
    } catch (error) {
      await this.#deadLetter(
        writes.map((write) => write.id),
        `merge threw: ${(error as Error).message}`,
        1,
      )
      return
    }
    const units = items.map((item) => ({
      item,
      attempts: 0,
      alone: 0,
      firstFailedAt: 0,
      nextAt: 0,
    }))
    if (units.length > 0) await this.#attempt(units)
  }

  async #retryDue(): Promise<number> {
    const now = Date.now()
    const due = this.#parked.filter((unit) => unit.nextAt <= now).slice(0, this.#settings.batchSize)
    if (due.length === 0) return 0
    const taken = new Set(due)
    this.#parked = this.#parked.filter((unit) => !taken.has(unit))
    await this.#attempt(due)
    return due.length
  }

  /**
   * One flush() of these items. When it fails and an item has failed `maxAttempts` times, each item
   * is tried alone, so one item the database refuses cannot hold back the others. An item is
   * dead-lettered after failing `maxAttempts` times alone while other flushes succeeded since it began
   * failing: during an outage nothing is dead-lettered.
   */
  async #attempt(units: Unit<V>[]): Promise<void> {
    if (await this.#flush(units)) return
    const { maxAttempts } = this.#settings
    let failing = units
    if (units.length === 1) units[0]!.alone++
    else if (units.some((unit) => unit.attempts >= maxAttempts)) failing = await this.#isolate(units)
    for (const unit of failing) {
      if (unit.alone >= maxAttempts && this.#lastSuccessAt > unit.firstFailedAt) {
        await this.#deadLetter(unit.item.ids, this.stats.lastError ?? 'flush failed', unit.attempts)
        continue
      }
      unit.nextAt = Date.now() + this.#backoff(unit.attempts)
      this.#parked.push(unit)
    }
  }

  /** Flushes items one at a time; gives up early when the first ones all fail (an outage, not one bad item). */
  async #isolate(units: Unit<V>[]): Promise<Unit<V>[]> {
    const failing: Unit<V>[] = []
    let succeeded = false
    for (const [i, unit] of units.entries()) {
      if (!succeeded && i >= ISOLATION_PROBES) return [...failing, ...units.slice(i)]
      if (await this.#flush([unit])) succeeded = true
      else {
        unit.alone++
        failing.push(unit)
      }
    }
    return failing
  }

  async #flush(units: Unit<V>[]): Promise<boolean> {
    try {
      await this.#settings.flush(units.map((unit) => unit.item))
    } catch (error) {
      this.stats.failures++
      this.stats.lastError = errorMessage(error)
      const now = Date.now()
      for (const unit of units) {
        unit.attempts++
        unit.firstFailedAt ||= now
      }
      return false
    }
    this.#lastSuccessAt = Date.now()
    await this.#settings.afterCommit(units.map((unit) => unit.item.key)).catch(() => {})
    await this.#ack(units.flatMap((unit) => unit.item.ids))
    return true
  }

  /** XACK then XDEL: the stream holds only what is not in the database yet, so its length is the backlog. */
  async #ack(ids: string[]): Promise<void> {
    const { client, stream, group } = this.#settings
    for (const id of ids) this.#held.delete(id)
    try {
      await client
        .multi()
        .xack(stream, group, ...ids)
        .xdel(stream, ...ids)
        .exec()
    } catch (error) {
      // In the database but still pending: released, they are claimed again once idle (a no-op flush).
      this.#failed(error)
      return
    }
    this.stats.flushed += ids.length
    this.#recent.push({ at: Date.now(), count: ids.length })
  }

  async #deadLetter(ids: string[], reason: string, attempts: number): Promise<void> {
    for (const id of ids) {
      const entry = this.#held.get(id)
      this.#held.delete(id)
      try {
        if (entry) await moveToDeadLetter(this.#target, entry, reason, attempts)
        await this.#settings.client.xdel(this.#settings.stream, id)
        this.stats.deadLettered++
      } catch (error) {
        // Still pending: released, it is claimed and tried again once idle.
        this.#failed(error)
      }
    }
  }

  #failed(error: unknown): void {
    this.stats.errors++
    this.stats.lastError = errorMessage(error)
  }

  #backoff(attempts: number): number {
    const { backoffMinMs, backoffMaxMs } = this.#settings
    const ms = Math.min(backoffMaxMs, backoffMinMs * 2 ** Math.max(0, attempts - 1))
    return ms * (0.8 + Math.random() * 0.4)
  }

  /** Resets the idle time of the entries this flusher holds, so no other flusher claims them. */
  #keepHeld(): void {
    const ids = [...this.#held.keys()]
    const { client, stream, group, consumer } = this.#settings
    for (let i = 0; i < ids.length; i += 1000) {
      client.xclaim(stream, group, consumer, 0, ...ids.slice(i, i + 1000), 'JUSTID').catch(() => {})
    }
  }

  async #pauseUntilDue(): Promise<void> {
    const next = Math.min(...this.#parked.map((unit) => unit.nextAt), Date.now() + MAX_BLOCK_MS)
    if (this.#parked.length > 0) await sleep(Math.max(0, Math.min(next - Date.now(), MAX_BLOCK_MS)))
  }
}

/** Creates the consumer group if it is missing; from id 0, so writes made before any flusher ran are read. */
export function createJournalGroup(client: Redis, stream: string, group: string): Promise<void> {
  return createGroup(client, stream, group, '0')
}
