/** What every window holds: when it opened. */
export interface WindowStart {
  start: number
}

/**
 * Fixed windows of `windowMs` per client key, as both the failure limiter and the denial recorder
 * keep them: a window opens at a client's first event and closes `windowMs` later. Insertion order is
 * start order, so the windows that ended are always at the front. Closing one calls `onClose`, whose
 * results the closing methods hand back (the denial recorder's audit writes).
 */
export class FixedWindows<W extends WindowStart, R = void> {
  readonly #windows = new Map<string, W>()

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
    private readonly onClose: (key: string, window: W) => R,
  ) {}

  get size(): number {
    return this.#windows.size
  }

  /** The key's window while it is open; one that ended is closed first. */
  get(key: string): W | undefined {
    const window = this.#windows.get(key)
    if (window && this.#ended(window)) {
      this.close(key, window)
      return undefined
    }
    return window
  }

  open(key: string, window: W): void {
    this.#windows.set(key, window)
  }

  close(key: string, window: W): R {
    this.#windows.delete(key)
    return this.onClose(key, window)
  }

  /** Closes the windows that ended, oldest first. */
  closeEnded(): R[] {
    const closed: R[] = []
    for (const [key, window] of this.#windows) {
      if (!this.#ended(window)) break
      closed.push(this.close(key, window))
    }
    return closed
  }

  /** Closes every window, open or not (at shutdown). */
  closeAll(): R[] {
    return [...this.#windows].map(([key, window]) => this.close(key, window))
  }

  /** The oldest window, if any. */
  oldest(): W | undefined {
    return this.#windows.values().next().value
  }

  /** Oldest first. */
  entries(): IterableIterator<[string, W]> {
    return this.#windows.entries()
  }

  #ended(window: W): boolean {
    return this.now() - window.start >= this.windowMs
  }
}
