/** The PINGs a watch is told about: how to send one, and what to do when too many go unanswered. */
export interface PingWatchOptions {
  ping: () => Promise<unknown>
  /** Ticks in a row without a PONG (a PING still pending, or one that failed) that make the connection silent. */
  limit: number
  /** Called once when the limit is reached, with `<limit> PINGs unanswered` or `<limit> PINGs failed`. */
  onSilent: (reason: string) => void
}

/**
 * Keeps an idle connection honest (docs/reliability.md C4): each tick() sends one PING, never more
 * than one in flight, so a frozen server never piles them up. A PONG, or reset(), starts the count over.
 */
export class PingWatch {
  readonly #options: PingWatchOptions
  #pending = false
  #missed = 0

  constructor(options: PingWatchOptions) {
    this.#options = options
  }

  tick(): void {
    if (this.#pending) {
      this.#miss('unanswered')
      return
    }
    this.#pending = true
    this.#options.ping().then(
      () => {
        this.#pending = false
        this.#missed = 0
      },
      () => {
        this.#pending = false
        this.#miss('failed')
      },
    )
  }

  /** Forgets the misses so far (the connection was re-established). */
  reset(): void {
    this.#missed = 0
  }

  #miss(how: 'unanswered' | 'failed'): void {
    const { limit, onSilent } = this.#options
    if (++this.#missed === limit) onSilent(`${limit} PINGs ${how}`)
  }
}
