import type { Inflight } from './engine.js'
import { InvalidOptionError } from './errors.js'

/*
 * Cancellation. A caller's AbortSignal ends that caller's wait, never work other callers share: a load
 * goes on while anyone waits for it, and its loader's own signal aborts only when every caller that
 * waited has left. A load nobody waits for any more still finishes and is cached, unless its loader
 * gives up (README, "Cancellation").
 */

/**
 * A call's `signal`, checked: anything but an AbortSignal is refused, and an aborted one throws its
 * reason before anything runs (as fetch does: a DOMException `AbortError` unless abort() got a reason).
 */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined
  if (!isAbortSignal(signal)) {
    throw new InvalidOptionError(`signal must be an AbortSignal, got ${describe(signal)}`)
  }
  signal.throwIfAborted()
  return signal
}

function isAbortSignal(value: unknown): value is AbortSignal {
  if (value instanceof AbortSignal) return true
  // A signal from another realm (a test environment, a polyfill) is accepted by its shape.
  const candidate = value as Partial<AbortSignal> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.aborted === 'boolean' &&
    typeof candidate.addEventListener === 'function' &&
    typeof candidate.removeEventListener === 'function' &&
    typeof candidate.throwIfAborted === 'function'
  )
}

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : typeof value
}

/**
 * `work`'s outcome, or the signal's reason as soon as it aborts. The work is not stopped, and its
 * outcome stays handled (no unhandled rejection); the one listener is removed when either happens, so
 * a long-lived signal used for many calls collects none.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal, onAbort?: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort?.()
    work.catch(ignore)
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.()
      reject(signal.reason)
    }
    signal.addEventListener('abort', abort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort)
        reject(error)
      },
    )
  })
}

function ignore(): void {}

/**
 * The callers waiting for one load whose leader could leave (it gave a signal). A caller without a
 * signal never leaves, so the loader's signal then never aborts.
 */
export class LoadAudience {
  readonly #controller = new AbortController()
  #waiting = 0

  constructor(readonly key: string) {}

  /** What the loader gets as `ctx.signal`. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Waits for `load` on behalf of one more caller, until it settles or `signal` aborts. */
  follow<T>(load: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    this.#waiting++
    if (!signal) return load
    return untilAborted(load, signal, () => this.#leave())
  }

  #leave(): void {
    if (--this.#waiting > 0) return
    this.#controller.abort(
      new DOMException(`every caller waiting for the load of '${this.key}' was aborted`, 'AbortError'),
    )
  }
}

/** A caller's wait for a load in flight: through its audience when it has one. */
export function followLoad<T>(
  record: Inflight,
  load: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (record.audience) return record.audience.follow(load, signal)
  return signal ? untilAborted(load, signal) : load
}

/** True when the load's loader was told to give up because every caller left. */
export function abandoned(record: Inflight): boolean {
  return record.audience?.signal.aborted === true
}
