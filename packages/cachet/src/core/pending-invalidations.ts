import type { Engine } from './engine.js'
import { clearL2, invalidatePatternInL2 } from './invalidation.js'
import type { BusMessage, RecoveryQueue } from './types.js'

const RETRY_EVERY_MS = 1_000

/** One change Redis missed: full keys are invalidated, tags and patterns (relative to the prefix) too. */
type Operation =
  | { kind: 'key'; key: string }
  | { kind: 'tag'; tag: string }
  | { kind: 'pattern'; pattern: string }
  | { kind: 'clear' }

/**
 * The recovery queue: every change Redis could not take (down, frozen, circuit open) — key and tag
 * invalidations, pattern deletes, clear(), and set() writes (replayed as an invalidation of the key, so
 * Redis drops the older value it holds) — waits here, de-duplicated, and is replayed in order once Redis
 * answers: on reconnect and every second. A replayed change is applied to Redis, to this instance's L1
 * (which may have read the older value back meanwhile) and published to the others again.
 *
 * Bounded: past `maxItems` the queue is replaced by one `clear` of the prefix, the one change that
 * covers everything it held (docs/architecture.md, "Redis trouble"). A queued clear likewise makes
 * every later change redundant.
 */
export class PendingInvalidations implements RecoveryQueue {
  #engine: Engine
  /** Insertion order is replay order; the id de-duplicates. */
  #items = new Map<string, Operation>()
  #maxItems: number
  #timer: NodeJS.Timeout | undefined
  #flushing = false

  constructor(engine: Engine, maxItems = 10_000) {
    this.#engine = engine
    this.#maxItems = maxItems
  }

  get size(): number {
    return this.#items.size
  }

  /** Queues full keys whose L2 invalidation (or unconditional write) failed. */
  addKeys(keys: readonly string[]): void {
    for (const key of keys) this.#add(`k:${key}`, { kind: 'key', key })
    this.#schedule()
  }

  /** Queues tags whose L2 invalidation failed. */
  addTags(tags: readonly string[]): void {
    for (const tag of tags) this.#add(`t:${tag}`, { kind: 'tag', tag })
    this.#schedule()
  }

  /** Queues a pattern delete (relative to the prefix) that did not complete in L2. */
  addPattern(pattern: string): void {
    this.#add(`p:${pattern}`, { kind: 'pattern', pattern })
    this.#schedule()
  }

  /** Queues a clear() that did not complete in L2: it replaces everything queued before it. */
  addClear(): void {
    this.#items.clear()
    this.#items.set('clear', { kind: 'clear' })
    this.#schedule()
  }

  /** Replays what is queued, in order, once; stops at the first failure, which stays queued. */
  async flush(): Promise<void> {
    const engine = this.#engine
    if (!engine.l2 || this.#flushing || this.size === 0) return
    this.#flushing = true
    try {
      while (this.#items.size > 0) {
        const batch = this.#nextBatch()
        const message = await this.#replay(batch.map(([, operation]) => operation))
        for (const [id] of batch) this.#items.delete(id)
        engine.onBusMessage(message)
        engine.publish(message)
      }
      engine.logger.info('cachet: changes queued during the Redis outage replayed')
    } catch {
      // Still unreachable: the next tick tries again.
    } finally {
      this.#flushing = false
    }
  }

  close(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** The first queued operation and the ones of the same kind right after it (keys and tags go together). */
  #nextBatch(): Array<[string, Operation]> {
    const batch: Array<[string, Operation]> = []
    for (const item of this.#items) {
      const kind = item[1].kind
      if (batch.length > 0 && (kind !== batch[0]![1].kind || kind === 'pattern' || kind === 'clear')) break
      batch.push(item)
    }
    return batch
  }

  /** Applies operations of one kind to Redis; resolves the bus message that describes them. */
  async #replay(operations: Operation[]): Promise<BusMessage> {
    const engine = this.#engine
    const l2 = engine.l2!
    const first = operations[0]!
    if (first.kind === 'key') {
      const keys = operations.map((operation) => (operation as { key: string }).key)
      await l2.invalidate(keys, engine.tombstone, engine.tombstoneTtlMs)
      return { t: 'del', k: keys }
    }
    if (first.kind === 'tag') {
      const tags = operations.map((operation) => (operation as { tag: string }).tag)
      await l2.invalidateTags(tags, engine.tombstone, engine.tombstoneTtlMs)
      return { t: 'tags', k: tags }
    }
    if (first.kind === 'pattern') {
      await invalidatePatternInL2(engine, first.pattern)
      return { t: 'pattern', k: [engine.fullKey(first.pattern)] }
    }
    await clearL2(engine)
    return { t: 'clear', k: [] }
  }

  #add(id: string, operation: Operation): void {
    if (this.#items.has(id) || this.#items.has('clear')) return
    if (this.size >= this.#maxItems) {
      this.#engine.logger.error(
        { maxItems: this.#maxItems },
        'cachet: recovery queue full; Redis will be cleared (prefix only) once it answers',
      )
      this.#engine.emitError(
        'invalidate',
        new Error('recovery queue full: replaced by a clear of the prefix'),
      )
      this.addClear()
      return
    }
    this.#items.set(id, operation)
  }

  #schedule(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => {
      if (this.size === 0) return this.close()
      void this.flush()
    }, RETRY_EVERY_MS)
    this.#timer.unref()
  }
}
