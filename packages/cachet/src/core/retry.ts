import { setTimeout as sleep } from 'node:timers/promises'
import type { Engine } from './engine.js'
import { L2Error } from './errors.js'
import type { ResolvedOptions } from './options.js'
import { recordRetry } from './outcome.js'
import type { L2Tier } from './types.js'

/**
 * The L2 calls (as Engine.attempt names them) that are repeated on a transient fault: running one
 * twice leaves Redis as running it once does, and its reply still tells the truth. Reads; plain sets
 * (the same value, the same tag index entries); the tombstones of an invalidation (a second tombstone
 * over the first is still "invalidated"). Not the stampede lock ('lock', 'readOrLock': a repeat takes
 * it with a fresh token, and a first try whose reply was lost may hold it already, so the repeat would
 * wait for itself), nor conditional writes ('set' of a loaded value, 'getOrSetMany', 'writeThrough',
 * 'expire', 'addTags': a first try whose reply was lost has already changed the version the repeat
 * compares, which then reports "not written"), nor tag invalidations (each repeat bumps the tags'
 * epochs again). Each repeated call runs its Redis calls on the tier it is handed (see run()).
 */
const REPEATABLE: ReadonlySet<string> = new Set(['get', 'getMany', 'tagEpochs', 'info', 'setMany', 'delete'])

/** Replies Redis gives while it cannot serve for a moment: loading, a long script, a failover, a reshard. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/

/** The retry strategy, resolved (l2.retry). */
type RetryPolicy = Exclude<ResolvedOptions['l2']['retry'], false>

/**
 * Repeats the L2 calls safe to repeat after a transient fault, within the soft timeout
 * (docs/reliability.md, retries). Called by Engine.attempt only, so it covers every L2 call at once.
 */
export class L2Retry {
  readonly #engine: Engine
  readonly #policy: RetryPolicy
  /** No repeat may end later than this after the first try began: the soft timeout (hard when off). */
  readonly #budgetMs: number

  constructor(engine: Engine, policy: RetryPolicy) {
    this.#engine = engine
    this.#policy = policy
    const { softTimeoutMs, hardTimeoutMs } = engine.options
    this.#budgetMs = Number.isFinite(softTimeoutMs) ? softTimeoutMs : hardTimeoutMs
  }

  covers(operation: string): boolean {
    return REPEATABLE.has(operation)
  }

  /**
   * Runs `work` on the tier's repeatable view: its failures do not count towards the circuit breaker
   * until the last one, counted once. Rejects with the last failure, for Engine.attempt to handle.
   */
  async run<T>(operation: string, work: (l2: L2Tier) => Promise<T>, l2: L2Tier, key?: string): Promise<T> {
    const repeatable = l2.repeatable?.()
    if (!repeatable) return work(l2)
    const engine = this.#engine
    const { attempts, factor } = this.#policy
    const started = performance.now()
    let delayMs = this.#policy.delayMs
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await work(repeatable.tier)
        if (attempt > 1) recordRetry(engine, operation, attempt, 'ok', key)
        return value
      } catch (error) {
        if (attempt > 1) recordRetry(engine, operation, attempt, 'failed', key)
        const again = attempt < attempts && isTransient(error) && !engine.closed
        // A repeat that began now could take its whole deadline: it starts only if it still ends in time.
        const fits = performance.now() - started + delayMs + engine.options.l2.timeoutMs <= this.#budgetMs
        if (again && !fits) recordRetry(engine, operation, attempt + 1, 'no-budget', key)
        if (!again || !fits) {
          repeatable.failed(error)
          throw error
        }
        await sleep(delayMs)
        delayMs *= factor
      }
    }
  }
}

/**
 * A fault that may be gone in a moment: a deadline passed, the link failed (closed, reset, not
 * writable while reconnecting), or Redis said it cannot serve for now. Not an open circuit (Redis is
 * known to be down), not another reply error (the same command gets the same answer), not an error of
 * cachet's own (a bad pattern).
 */
function isTransient(error: unknown): boolean {
  if (!(error instanceof L2Error) || error.reason === 'circuit-open') return false
  if (error.reason === 'timeout') return true
  const cause = error.cause
  if (cause instanceof Error && cause.name === 'ReplyError') return TRANSIENT_REPLY.test(cause.message)
  return true
}
