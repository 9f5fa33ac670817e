import type { CacheEvents } from './cache-api.js'

type Listener<E extends keyof CacheEvents> = (payload: CacheEvents[E]) => void

/**
 * A small typed event emitter. `has()` lets the hot path skip building a payload nobody listens
 * to, and a throwing listener never breaks a cache call.
 */
export class Emitter {
  #listeners = new Map<keyof CacheEvents, Set<Listener<any>>>()
  #onListenerError: (error: unknown) => void

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError
  }

  /** True when at least one listener is registered for the event. */
  has(event: keyof CacheEvents): boolean {
    return this.#listeners.has(event)
  }

  on<E extends keyof CacheEvents>(event: E, listener: Listener<E>): void {
    const set = this.#listeners.get(event) ?? new Set()
    this.#listeners.set(event, set)
    set.add(listener)
  }

  off<E extends keyof CacheEvents>(event: E, listener: Listener<E>): void {
    const set = this.#listeners.get(event)
    if (!set) return
    set.delete(listener)
    if (set.size === 0) this.#listeners.delete(event)
  }

  emit<E extends keyof CacheEvents>(event: E, payload: CacheEvents[E]): void {
    const set = this.#listeners.get(event)
    if (!set) return
    for (const listener of set) {
      try {
        listener(payload)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }
}
