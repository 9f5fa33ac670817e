import { errorMessage, L2Error } from '../../core/errors.js'

/** Circuit breaker state: closed = calls pass, open = calls fail at once, half-open = one probe passes. */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** A call in flight, until it settles or its deadline passes. */
interface PendingCall {
  deadline: number
  settled: boolean
  expire: () => void
}

/** Options of L2Guard. */
export interface L2GuardOptions {
  /** Deadline of one Redis round trip, in ms (checked within a fifth of it). */
  timeoutMs: number
  /** Open after `threshold` consecutive failures for `durationMs`; false = never open. */
  breaker: { threshold: number; durationMs: number } | false
  /** Called on every state transition. */
  onStateChange?: (state: CircuitState) => void
}

/** What runs one Redis call under the guard's deadline and circuit. */
export interface GuardedRunner {
  run<T>(operation: string, fn: () => Promise<T>): Promise<T>
}

/**
 * Bounds every Redis call: an app-level deadline (tighter than ioredis' own commandTimeout, which is
 * only a backstop, and also covering commands stuck in a queue), and a circuit breaker so a dead
 * Redis costs nothing after a few failures.
 */
export class L2Guard {
  #current: CircuitState = 'closed'
  #consecutive = 0
  #failures = 0
  #openUntil = 0
  #probing = false
  readonly #deadlineMs: number
  readonly #pending = new Set<PendingCall>()
  #sweeper: NodeJS.Timeout | undefined
  #lastSweep = 0
  readonly #tickMs: number

  readonly #options: L2GuardOptions
  #untallied: GuardedRunner | undefined

  constructor(options: L2GuardOptions) {
    this.#options = options
    this.#deadlineMs = options.timeoutMs
    this.#tickMs = Math.max(5, Math.round(options.timeoutMs / 5))
  }

  /** Breaker state now (an open circuit whose duration has passed reports half-open). */
  get state(): CircuitState {
    if (this.#current === 'open' && Date.now() >= this.#openUntil) this.#transition('half-open')
    return this.#current
  }

  /** Failed calls since creation (timeouts, errors; not calls refused by an open circuit). */
  get errors(): number {
    return this.#failures
  }

  /** Consecutive failures counted towards opening the circuit. */
  get consecutiveFailures(): number {
    return this.#consecutive
  }

  /**
   * Runs one Redis call. Rejects with L2Error naming `operation` when the circuit is open, when `fn`
   * rejects, or when the deadline passes first (a late settlement is swallowed, never unhandled).
   */
  run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.#run(operation, fn, true)
  }

  /**
   * A runner like run() whose failures do not count towards opening the circuit: for a call that may
   * be repeated (docs/reliability.md, retries). Its caller reports the final failure with
   * countFailure(), so a call that failed, was repeated and succeeded never counted against Redis.
   */
  untallied(): GuardedRunner {
    this.#untallied ??= { run: (operation, fn) => this.#run(operation, fn, false) }
    return this.#untallied
  }

  /** Counts the final failure of an untallied call towards opening the circuit, once (see untallied()). */
  countFailure(error: unknown): void {
    if (!(error instanceof L2Error) || error.reason === 'circuit-open' || isReplyError(error.cause)) return
    this.#tally(false)
  }

  #run<T>(operation: string, fn: () => Promise<T>, tallied: boolean): Promise<T> {
    const state = this.state
    if (state === 'open' || (state === 'half-open' && this.#probing)) {
      return Promise.reject(
        new L2Error(
          `Redis ${operation} skipped: circuit open after ${this.#consecutive} consecutive failures`,
          { reason: 'circuit-open' },
        ),
      )
    }
    const probe = state === 'half-open'
    if (probe) this.#probing = true

    return new Promise<T>((resolve, reject) => {
      const call: PendingCall = {
        deadline: performance.now() + this.#deadlineMs,
        settled: false,
        expire: () => {
          this.#failed(probe, true, tallied)
          reject(
            new L2Error(`Redis ${operation} timed out after ${this.#deadlineMs} ms`, { reason: 'timeout' }),
          )
        },
      }
      this.#watch(call)
      let pending: Promise<T>
      try {
        pending = fn()
      } catch (error) {
        pending = Promise.reject(error)
      }
      pending.then(
        (value) => {
          if (call.settled) return
          call.settled = true
          this.#pending.delete(call)
          this.#succeeded(probe)
          resolve(value)
        },
        (error: unknown) => {
          if (call.settled) return
          call.settled = true
          this.#pending.delete(call)
          // A reply error (WRONGTYPE, OOM, NOSCRIPT…) means Redis answered: it is alive, so it does
          // not count towards opening the circuit.
          this.#failed(probe, !isReplyError(error), tallied)
          reject(new L2Error(`Redis ${operation} failed: ${errorMessage(error)}`, { cause: error }))
        },
      )
    })
  }

  /**
   * Deadlines are checked by one sweeper for all calls rather than a timer per call (a timer per
   * Redis command costs more than the command's own bookkeeping). Calls share one deadline length,
   * so the set is in deadline order and a sweep stops at the first call still in time.
   */
  #watch(call: PendingCall): void {
    this.#pending.add(call)
    if (this.#sweeper) return
    this.#lastSweep = performance.now()
    this.#sweeper = setInterval(() => this.#sweep(), this.#tickMs)
    this.#sweeper.unref()
  }

  #sweep(): void {
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
      return
    }
    const now = performance.now()
    const lag = now - this.#lastSweep - this.#tickMs
    this.#lastSweep = now
    if (lag > this.#tickMs) {
      // The event loop was blocked (a long synchronous task): that time was not Redis's, and the
      // commands may not even have left the process yet. Push the deadlines back by it; look again.
      for (const call of this.#pending) call.deadline += lag
      return
    }
    const overdue: PendingCall[] = []
    for (const call of this.#pending) {
      if (call.deadline > now) break
      overdue.push(call)
    }
    if (overdue.length === 0) return
    // Timers run before I/O in an event-loop turn: after a long synchronous task (a heavy query, a
    // big JSON.parse) the deadline passes before the reply sitting in the socket is read. Give I/O one
    // turn first, so a busy process is not mistaken for a slow Redis (and the circuit stays closed).
    setImmediate(() => {
      for (const call of overdue) {
        if (call.settled) continue
        call.settled = true
        this.#pending.delete(call)
        call.expire()
      }
    })
  }

  #succeeded(probe: boolean): void {
    if (probe) this.#probing = false
    this.#consecutive = 0
    if (this.#current !== 'closed') this.#transition('closed')
  }

  /** `tallied` false: an untallied call; its caller counts the final failure (countFailure). */
  #failed(probe: boolean, countsForBreaker: boolean, tallied: boolean): void {
    this.#failures++
    if (probe) this.#probing = false
    if (!countsForBreaker) {
      if (probe) this.#succeeded(false)
      return
    }
    if (tallied) this.#tally(probe)
  }

  #tally(probe: boolean): void {
    this.#consecutive++
    const breaker = this.#options.breaker
    if (!breaker) return
    if (probe || this.#consecutive >= breaker.threshold) {
      this.#openUntil = Date.now() + breaker.durationMs
      if (this.#current !== 'open') this.#transition('open')
    }
  }

  #transition(state: CircuitState): void {
    this.#current = state
    this.#options.onStateChange?.(state)
  }
}

function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError'
}
