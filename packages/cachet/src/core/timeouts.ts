/** How a raced promise ended. */
export type RaceResult<T> =
  | { state: 'done'; value: T }
  | { state: 'failed'; error: unknown }
  | { state: 'timeout' }

/**
 * Waits for `promise` at most `ms` (Infinity = no limit). Never rejects, so a late failure of the
 * raced promise cannot become an unhandled rejection here; the timer never keeps the process alive.
 */
export function race<T>(promise: Promise<T>, ms: number): Promise<RaceResult<T>> {
  const settled = promise.then(
    (value): RaceResult<T> => ({ state: 'done', value }),
    (error: unknown): RaceResult<T> => ({ state: 'failed', error }),
  )
  if (ms === Number.POSITIVE_INFINITY) return settled
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<RaceResult<T>>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'timeout' }), ms)
    timer.unref()
  })
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer))
}

/** The value of `promise`, or undefined when it fails or takes longer than `ms` (a probe that must not hang). */
export async function valueWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  const outcome = await race(promise, ms)
  return outcome.state === 'done' ? outcome.value : undefined
}

/** `promise`, rejected with an Error naming `what` when it takes longer than `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const outcome = await race(promise, ms)
  if (outcome.state === 'done') return outcome.value
  if (outcome.state === 'failed') throw outcome.error
  throw new Error(`${what}: no answer within ${ms} ms`)
}

/** True for a promise or any thenable (what a loader or a validator may answer instead of a value). */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null)?.then === 'function'
}
