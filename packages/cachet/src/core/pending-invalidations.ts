import type { Engine } from './engine.js'

const RETRY_EVERY_MS = 1_000

/**
 * Invalidations that could not reach Redis (down, frozen, circuit open) are not forgotten: they are
 * retried every second until Redis takes them (RELIABILITY R6). The queue is bounded; an overflow is
 * logged as an error rather than dropped silently.
 */
export class PendingInvalidations {
  #engine: Engine
  #keys = new Set<string>()
  #tags = new Set<string>()
  #maxItems: number
  #timer: NodeJS.Timeout | undefined
  #flushing = false

  constructor(engine: Engine, maxItems = 10_000) {
    this.#engine = engine
    this.#maxItems = maxItems
  }

  get size(): number {
    return this.#keys.size + this.#tags.size
  }

  /** Queues full keys whose L2 invalidation failed. */
  addKeys(keys: readonly string[]): void {
    for (const key of keys) this.#add(this.#keys, key)
    this.#schedule()
  }

  /** Queues tags whose L2 invalidation failed. */
  addTags(tags: readonly string[]): void {
    for (const tag of tags) this.#add(this.#tags, tag)
    this.#schedule()
  }

  /** Tries once to apply everything queued; what fails stays queued. */
  async flush(): Promise<void> {
    const l2 = this.#engine.l2
    if (!l2 || this.#flushing || this.size === 0) return
    this.#flushing = true
    try {
      if (this.#keys.size > 0) {
        const keys = [...this.#keys]
        await l2.invalidate(keys, this.#engine.tombstone, this.#engine.tombstoneTtlMs)
        for (const key of keys) this.#keys.delete(key)
        this.#engine.publish({ t: 'del', k: keys })
      }
      if (this.#tags.size > 0) {
        const tags = [...this.#tags]
        await l2.invalidateTags(tags, this.#engine.tombstone, this.#engine.tombstoneTtlMs)
        for (const tag of tags) this.#tags.delete(tag)
        this.#engine.publish({ t: 'tags', k: tags })
      }
      this.#engine.logger.info('cachet: queued invalidations applied after Redis recovered')
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

  #add(set: Set<string>, item: string): void {
    if (set.has(item)) return
    if (this.size >= this.#maxItems) {
      this.#engine.logger.error({ item }, 'cachet: invalidation retry queue full; this invalidation is lost')
      this.#engine.emitError('invalidate', new Error('invalidation retry queue full'))
      return
    }
    set.add(item)
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
