import { CachetError } from '../index.js'
import type { BypassReason } from './cache-policy.js'
import type { StoredResponse } from './stored-response.js'

/** The handler's response could not be stored; the loader rejects with this so nothing is written. */
export class NotStorableError extends CachetError {
  static override readonly code = 'E_NOT_STORABLE'
  readonly reason: BypassReason

  constructor(reason: BypassReason, key: string) {
    super(`the response for '${key}' was not stored: ${reason}`, { key })
    this.reason = reason
  }
}

/**
 * The loader side of one request that runs the handler: the engine awaits `promise` (its loader),
 * and the adapter settles it once the handler's response is captured, or fails. A timer makes sure
 * waiters are released even if the adapter never hears back (hijacked or vanished response).
 */
export class PendingFill {
  readonly promise: Promise<StoredResponse>
  #resolve!: (value: StoredResponse) => void
  #reject!: (error: Error) => void
  #timer: NodeJS.Timeout
  #settled = false

  constructor(
    readonly key: string,
    timeoutMs: number,
  ) {
    this.promise = new Promise<StoredResponse>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.#timer = setTimeout(() => this.reject(new NotStorableError('handler-error', key)), timeoutMs)
    this.#timer.unref()
  }

  /** False once the response was handed over or the fill gave up. */
  get pending(): boolean {
    return !this.#settled
  }

  resolve(value: StoredResponse): void {
    if (this.#settle()) this.#resolve(value)
  }

  reject(error: Error): void {
    if (this.#settle()) this.#reject(error)
  }

  #settle(): boolean {
    if (this.#settled) return false
    this.#settled = true
    clearTimeout(this.#timer)
    return true
  }
}
