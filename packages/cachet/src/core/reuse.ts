/**
 * Wraps `load` so that callers within `ms` of the last settled call share its result, and callers
 * while a call is in flight share that call: a flood of requests costs one load per `ms`. A failed
 * load is not kept; the next caller tries again.
 */
export function reuseFor<T>(ms: number, load: () => Promise<T>): () => Promise<T> {
  let current: { value: Promise<T>; settledAt?: number } | undefined
  return () => {
    if (current && (current.settledAt === undefined || Date.now() - current.settledAt < ms))
      return current.value
    const entry: { value: Promise<T>; settledAt?: number } = { value: load() }
    current = entry
    entry.value.then(
      () => {
        entry.settledAt = Date.now()
      },
      () => {
        if (current === entry) current = undefined
      },
    )
    return entry.value
  }
}
