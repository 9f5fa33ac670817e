import type { CacheApi } from './cache-api.js'
import { InvalidOptionError } from './errors.js'
import { hashKey, stableStringify } from './keys.js'
import type { CallOptions } from './options.js'

type StoreOptions = Pick<CallOptions, 'ttl' | 'grace' | 'tags'>

/** The key of one call: `${base}:${sha256(stable JSON of the arguments)}` (seed 003's cached_query). */
export function argumentsKey(base: string, args: readonly unknown[]): string {
  return args.length === 0 ? base : `${base}:${hashKey(stableStringify(args))}`
}

/**
 * Memoizes an async function in the cache: each distinct argument list is one key, built from the
 * function's name (or `options.key`) and its arguments serialized stably.
 */
export function wrap<A extends unknown[], R>(
  cache: CacheApi,
  fn: (...args: A) => Promise<R>,
  options: StoreOptions & { key?: string | ((...args: A) => string) } = {},
): (...args: A) => Promise<R> {
  const { key, ...callOptions } = options
  const base = typeof key === 'string' ? key : `fn:${fn.name}`
  if (typeof key !== 'function' && base === 'fn:') {
    throw new InvalidOptionError('wrap() needs a named function or a `key` option')
  }
  const wrapped = (...args: A): Promise<R> => {
    const cacheKey = typeof key === 'function' ? key(...args) : argumentsKey(base, args)
    return cache.getOrSet(cacheKey, () => fn(...args), callOptions)
  }
  Object.defineProperty(wrapped, 'name', { value: fn.name })
  return wrapped
}

/**
 * A standard (TC39) method decorator caching an async method by class, method name and arguments:
 * `class Reports { @cached(cache, { ttl: '10m', tags: ['revenue'] }) async revenue(period) { … } }`.
 */
export function cached(cache: CacheApi, options: StoreOptions & { key?: string } = {}) {
  const { key, ...callOptions } = options
  return <This, A extends unknown[], R>(
    method: (this: This, ...args: A) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => Promise<R>>,
  ) => {
    const methodName = String(context.name)
    return function (this: This, ...args: A): Promise<R> {
      const owner = (this as { constructor?: { name?: string } })?.constructor?.name ?? 'anonymous'
      const cacheKey = argumentsKey(key ?? `method:${owner}.${methodName}`, args)
      return cache.getOrSet(cacheKey, () => method.apply(this, args), callOptions)
    }
  }
}
