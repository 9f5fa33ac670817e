import { argumentsKey, type Duration, InvalidOptionError } from '../index.js'
import type { QueryCache } from './query-cache.js'
import { tableTag } from './query-key.js'
import { tableName } from './table-name.js'

/** Options of cachedQuery(). */
export interface CachedQueryOptions {
  /** Overrides the query cache's adaptive or default TTL. */
  ttl?: Duration
  tags?: readonly string[]
  /** Tables the function reads: their `table:` tags let execute() and invalidateTables() reach it. */
  tables?: readonly string[]
  /** Key base instead of the function's name. */
  key?: string
}

/**
 * The `@cached_query` decorator cachet replaces, for a function: each distinct argument list is cached under
 * `${namespace}:fn:${name}:${sha256(stable JSON of the database identity and the arguments)}`, with the
 * query cache's TTL rules. The identity keeps two tenants' results of the same function apart.
 */
export function cachedQuery<A extends unknown[], R>(
  queryCache: QueryCache,
  fn: (...args: A) => Promise<R>,
  options: CachedQueryOptions = {},
): (...args: A) => Promise<R> {
  const name = options.key ?? fn.name
  if (!name) throw new InvalidOptionError('cachedQuery() needs a named function or a `key` option')
  const base = `${queryCache.namespace}:fn:${name}`
  const tags = [...(options.tables ?? []).map((table) => tableTag(tableName(table))), ...(options.tags ?? [])]
  const ttl = options.ttl ?? (queryCache.adaptiveTtl ? undefined : queryCache.defaultTtl)
  const wrapped = async (...args: A): Promise<R> =>
    queryCache.cache.getOrSet(argumentsKey(base, [await queryCache.identity(), args]), () => fn(...args), {
      ttl,
      tags,
      adaptiveTtl: ttl === undefined && queryCache.adaptiveTtl,
    })
  Object.defineProperty(wrapped, 'name', { value: fn.name })
  return wrapped
}
