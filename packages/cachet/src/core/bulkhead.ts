import { LoaderTimeoutError } from './errors.js'

/**
 * At most `max` loaders run at once in this instance (`maxConcurrentLoads`), so a cold instance or an
 * outage cannot send every key to the source at the same moment. Callers beyond it wait in turn (first
 * come, first served); each waits no longer than it was given (its hard timeout), so the queue is
 * bounded by the callers' own deadlines. Callers holding a stale value do not queue (see get-or-set.ts).
 */
export class Bulkhead {
  #active = 0
  /** Insertion order is arrival order; a waiter that gives up removes itself. */
  readonly #waiting = new Set<() => void>()

  constructor(readonly max: number) {}

  get full(): boolean {
    return this.#active >= this.max
  }

  /** A release function when a slot is free now, else undefined (the common path: no promise, no wait). */
  tryAcquire(): (() => void) | undefined {
    if (this.#active >= this.max) return undefined
    this.#active++
    return this.#releaser()
  }

  /**
   * Resolves a release function once a slot is free; rejects with LoaderTimeoutError if none frees
   * within `waitMs` (Infinity = no limit). Release exactly once, when the loader has settled.
   */
  acquire(key: string, waitMs: number): Promise<() => void> {
    const free = this.tryAcquire()
    if (free) return Promise.resolve(free)
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const admit = () => {
        clearTimeout(timer)
        this.#active++
        resolve(this.#releaser())
      }
      this.#waiting.add(admit)
      if (waitMs === Number.POSITIVE_INFINITY) return
      timer = setTimeout(() => {
        this.#waiting.delete(admit)
        reject(
          new LoaderTimeoutError(
            `the loader for key '${key}' waited ${waitMs} ms for one of the ${this.max} load slots (maxConcurrentLoads)`,
            { key },
          ),
        )
      }, waitMs)
      timer.unref()
    })
  }

  #releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      this.#active--
      const next = this.#waiting.values().next()
      if (next.done) return
      this.#waiting.delete(next.value)
      next.value()
    }
  }
}
