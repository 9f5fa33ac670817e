import type { CacheApi, Loader, LoaderContext } from './cache-api.js'
import { InvalidOptionError } from './errors.js'
import { hashKey, stableStringify } from './keys.js'
import type { SchemaOptions, StoreOptions } from './options.js'

/** Options every memoized call shares (wrap and @cached): what it stores, its schema, and `derive`. */
export type MemoOptions<R> = StoreOptions &
  SchemaOptions & {
    /** Runs on each load with the function's result and the loader context (setTtl, setTags, skip…). */
    derive?: (value: R, ctx: LoaderContext<R>) => void
  }

/** Options of wrap(): what each call stores, its schema, `derive`, its key, and the signal that ends a call's wait. */
export type WrapOptions<A extends unknown[], R = unknown> = MemoOptions<R> & {
  /** The key of every call, or of one call from its arguments. @default `fn:<name>:<hash of the arguments>` */
  key?: string | ((...args: A) => string)
  /**
   * A signal for every call (a shutdown signal), or one call's from its arguments (the request's),
   * as getOrSet's `signal`.
   */
  signal?: AbortSignal | ((...args: A) => AbortSignal | undefined)
}

/** The loader of one call: the function's result, passed through `derive` when there is one. */
function loaderOf<R>(run: () => Promise<R>, derive: MemoOptions<R>['derive']): Loader<R> {
  if (derive === undefined) return run
  return async (ctx) => {
    const value = await run()
    derive(value, ctx)
    return value
  }
}

/**
 * The key of one call: `${base}:${sha256(stable JSON of the arguments)}` (as the `@cached_query`
 * decorator cachet replaces).
 */
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
  options: WrapOptions<A, R> = {},
): (...args: A) => Promise<R> {
  const { key, signal, derive, ...callOptions } = options
  const base = typeof key === 'string' ? key : `fn:${fn.name}`
  if (typeof key !== 'function' && base === 'fn:') {
    throw new InvalidOptionError('wrap() needs a named function or a `key` option')
  }
  const wrapped = (...args: A): Promise<R> => {
    const cacheKey = typeof key === 'function' ? key(...args) : argumentsKey(base, args)
    const callSignal = typeof signal === 'function' ? signal(...args) : signal
    const call = callSignal === undefined ? callOptions : { ...callOptions, signal: callSignal }
    return cache.getOrSet(
      cacheKey,
      loaderOf(() => fn(...args), derive),
      call,
    )
  }
  Object.defineProperty(wrapped, 'name', { value: fn.name })
  return wrapped
}

type AsyncMethod<This, A extends unknown[], R> = (this: This, ...args: A) => Promise<R>

/**
 * A method decorator that works under both decorator settings of TypeScript: standard (TC39)
 * decorators, the default, and `experimentalDecorators: true` (NestJS projects). Either way the method
 * is called with the decorator's two or three arguments and returns the replacement method.
 */
export interface CachedDecorator {
  /** Standard (TC39) decorators. */
  <This, A extends unknown[], R>(
    method: AsyncMethod<This, A, R>,
    context: ClassMethodDecoratorContext<This, AsyncMethod<This, A, R>>,
  ): AsyncMethod<This, A, R>
  /** `experimentalDecorators: true`. */
  <T extends (...args: any[]) => Promise<unknown>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T>
}

/**
 * Caches an async class method by class, method name and arguments:
 * `class Reports { @cached(cache, { ttl: '10m', tags: ['revenue'] }) async revenue(period) { … } }`.
 * Works with standard decorators and with `experimentalDecorators`; any other use throws
 * InvalidOptionError instead of silently caching nothing.
 */
export function cached(
  cache: CacheApi,
  options: MemoOptions<unknown> & { key?: string } = {},
): CachedDecorator {
  const { key, derive, ...callOptions } = options
  const replace = (method: (...args: unknown[]) => Promise<unknown>, methodName: string) =>
    function (this: unknown, ...args: unknown[]): Promise<unknown> {
      const cacheKey = argumentsKey(key ?? `method:${ownerName(this)}.${methodName}`, args)
      return cache.getOrSet(
        cacheKey,
        loaderOf(() => method.apply(this, args), derive),
        callOptions,
      )
    }
  return ((method: unknown, context: unknown, descriptor?: PropertyDescriptor) => {
    if (isLegacyDescriptor(descriptor) && typeof descriptor.value === 'function') {
      return { ...descriptor, value: replace(descriptor.value, String(context)) }
    }
    if (typeof method === 'function' && descriptor === undefined && isMethodContext(context)) {
      return replace(method as (...args: unknown[]) => Promise<unknown>, String(context.name))
    }
    throw new InvalidOptionError(
      '@cached() decorates class methods only (standard or experimentalDecorators)',
    )
  }) as CachedDecorator
}

function isLegacyDescriptor(value: unknown): value is PropertyDescriptor {
  return typeof value === 'object' && value !== null && ('value' in value || 'get' in value)
}

function isMethodContext(value: unknown): value is { name: string | symbol; kind?: string } {
  if (typeof value !== 'object' || value === null || !('name' in value)) return false
  const kind = (value as { kind?: unknown }).kind
  return kind === undefined || kind === 'method'
}

/** The class a method runs on: the constructor for a static method, else the instance's class. */
function ownerName(self: unknown): string {
  if (typeof self === 'function') return self.name || 'anonymous'
  return (self as { constructor?: { name?: string } } | undefined)?.constructor?.name ?? 'anonymous'
}
