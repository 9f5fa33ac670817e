import { AsyncLocalStorage } from 'node:async_hooks'
import type { Queryable } from 'cachet/sql'

const current = new AsyncLocalStorage<{ loaded: number }>()

/**
 * Runs `fn` and counts the loads from the database made on its behalf (countLoad calls in its async
 * context). Routes use it for X-Cache: the SQL and entity caches say nothing about hit or miss, but a
 * request that made its cache call the database was a miss. A request that joined a load another one
 * started counts as a hit.
 */
export async function trackLoads<T>(fn: () => Promise<T>): Promise<{ value: T; loaded: number }> {
  const store = { loaded: 0 }
  const value = await current.run(store, fn)
  return { value, loaded: store.loaded }
}

/** Records `n` entities or one query loaded from the database for the request being tracked. */
export function countLoad(n = 1): void {
  const store = current.getStore()
  if (store) store.loaded += n
}

/**
 * The same PGlite or pg Pool, with every top-level query() counted. Everything else (PGlite's
 * transaction(), the Pool's connect() and totalCount, which the SQL cache uses to tell them apart)
 * is the original's, bound to it.
 */
export function countingQueryable<D extends Queryable>(db: D): D {
  return new Proxy(db, {
    get(target, property) {
      if (property === 'query') {
        return (text: string, values?: unknown[]) => {
          countLoad()
          return target.query(text, values)
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
