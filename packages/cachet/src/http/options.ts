import { positiveMs } from '../core/options.js'
import { type CacheApi, type Duration, InvalidOptionError, toMs } from '../index.js'
import { DEFAULT_CACHE_TYPES, TYPE_PATTERN } from './cache-types.js'
import { STORED_HEADERS } from './stored-response.js'

/** Who may share an entry: everyone (`public`), one user (`user`) or one role (`role`). */
export type CacheScope = 'public' | 'user' | 'role'

/** The principal a getter returns: a user id or role name, or nothing (not authenticated). */
export type Principal = string | number | null | undefined

/** Options of one cached route. `R` is the framework's request type. */
export interface RouteCacheOptions<R = any> {
  /**
   * Cache type: the first key segment and, unless `ttl` is given, the freshness (DEFAULT_CACHE_TYPES or
   * `types`).
   */
  type: string
  /** Freshness of this route's entries. @default the type's ttl */
  ttl?: Duration
  /** How long a stale entry is kept for fail-safe (served when the handler fails). @default the cache's grace */
  grace?: Duration | false
  /** Tags for invalidateTags(); a function gets the request. */
  tags?: readonly string[] | ((request: R) => readonly string[])
  /** Who shares an entry. 'user' and 'role' need `getUser` / `getRole`. @default 'public' */
  scope?: CacheScope
  /** Request headers that change the response; each one's value goes into the key. @default [] */
  varyBy?: readonly string[]
  /**
   * Query parameters that go into the key. A list keys on those, and a request carrying any other
   * parameter bypasses the cache (it is answered, neither read nor stored); `'all'` keys on every
   * parameter (sorted), so each new parameter or value is a new entry; `false` ignores the query (the
   * handler must not read it). @default [] (a request with any query parameter bypasses)
   */
  query?: 'all' | readonly string[] | false
  /**
   * Custom key (the replaced Flask decorator's `key_func`): replaces the hash; scope segments are still
   * added.
   */
  key?: (request: R) => string
  /**
   * A public route serves and stores a shared entry even for requests carrying Authorization or a
   * cookie. Only for responses that do not depend on who asks. @default false
   */
  shareAuthenticated?: boolean
  /** Send the `X-Cache-Key` header (public routes only). @default the cache-wide `exposeKey` */
  exposeKey?: boolean
}

/** Options shared by every route of one adapter instance. */
export interface ResponseCacheOptions<R = any> {
  /** The engine: what createCache() returns. */
  cache: CacheApi
  /** Extra or overriding cache types: name → ttl. Merged over DEFAULT_CACHE_TYPES. */
  types?: Record<string, Duration>
  /**
   * The VERIFIED user id of a request (for scope 'user'), e.g. the `sub` of a JWT your auth layer
   * already checked. Put the cache after authentication; never parse an unverified token here.
   */
  getUser?: (request: R) => Principal | Promise<Principal>
  /** The verified role of a request (for scope 'role'). */
  getRole?: (request: R) => Principal | Promise<Principal>
  /**
   * Send `X-Cache-Key` on public routes. User- and role-scoped routes never send it: their key holds
   * the principal. @default false
   */
  exposeKey?: boolean
  /**
   * The hosts this app serves (as the framework resolves them, with the port when the client sends
   * one). A request for another host bypasses the cache. @default any host (each one its own entry)
   */
  hosts?: readonly string[]
  /**
   * Entries of one cache type this process may create; past it, a new variant is answered without
   * being stored and existing entries stay. @default 10000
   */
  maxEntriesPerType?: number
  /**
   * Entries one user may create per type on `scope: 'user'` routes (within `maxEntriesPerType`), so one
   * user cannot use up the type's cap for everyone. @default 1000
   */
  maxEntriesPerUser?: number
  /** Largest body stored; a larger one is sent untouched and not stored. @default 1 MiB */
  maxBodyBytes?: number
  /**
   * Cookie names that identify a user. A public route bypasses the shared cache when one is present.
   * @default every cookie counts
   */
  credentialCookies?: readonly string[]
  /** Response headers stored with the body, added to the built-in allow-list. */
  storeHeaders?: readonly string[]
}

/** Route options with every default filled in and durations in ms. */
export interface ResolvedRoute<R = any> {
  type: string
  ttlMs: number
  grace?: Duration | false
  tags?: RouteCacheOptions<R>['tags']
  scope: CacheScope
  varyBy: string[]
  query: 'all' | string[] | false
  key?: (request: R) => string
  shareAuthenticated: boolean
  exposeKey: boolean
}

/** Adapter-wide options, validated. */
export interface ResolvedResponseCacheOptions<R = any> {
  cache: CacheApi
  typesMs: Map<string, number>
  getUser?: ResponseCacheOptions<R>['getUser']
  getRole?: ResponseCacheOptions<R>['getRole']
  exposeKey: boolean
  hosts?: Set<string>
  maxEntriesPerType: number
  maxEntriesPerUser: number
  maxBodyBytes: number
  credentialCookies?: Set<string>
  storeHeaders: Set<string>
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Validates adapter-wide options; throws InvalidOptionError naming the option. */
export function resolveResponseCacheOptions<R>(
  options: ResponseCacheOptions<R>,
): ResolvedResponseCacheOptions<R> {
  if (!options || typeof options !== 'object')
    throw new InvalidOptionError('response cache options are required')
  const { cache } = options
  if (!cache || typeof cache.getOrSet !== 'function' || typeof cache.prefix !== 'string') {
    throw new InvalidOptionError('`cache` must be a cache created by createCache()')
  }
  const typesMs = new Map<string, number>()
  for (const [name, ttl] of Object.entries({ ...DEFAULT_CACHE_TYPES, ...options.types })) {
    if (!TYPE_PATTERN.test(name)) {
      throw new InvalidOptionError(
        `types: '${name}' is not a valid type name (letters, digits, '_', '-', '.')`,
      )
    }
    typesMs.set(name, positiveMs(ttl, `types.${name}`))
  }
  for (const name of ['getUser', 'getRole'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new InvalidOptionError(`${name} must be a function (request) => id`)
    }
  }
  return {
    cache,
    typesMs,
    getUser: options.getUser,
    getRole: options.getRole,
    exposeKey: options.exposeKey ?? false,
    hosts: options.hosts && new Set(hostNames(options.hosts)),
    maxEntriesPerType: count(options.maxEntriesPerType, 10_000, 'maxEntriesPerType'),
    maxEntriesPerUser: count(options.maxEntriesPerUser, 1000, 'maxEntriesPerUser'),
    maxBodyBytes: count(options.maxBodyBytes, 1024 * 1024, 'maxBodyBytes'),
    credentialCookies: options.credentialCookies && new Set(options.credentialCookies),
    storeHeaders: new Set([...STORED_HEADERS, ...headerNames(options.storeHeaders ?? [], 'storeHeaders')]),
  }
}

/** Validates one route's options against the adapter-wide ones; called once, when the route is declared. */
export function resolveRoute<R>(
  route: RouteCacheOptions<R>,
  shared: ResolvedResponseCacheOptions<R>,
): ResolvedRoute<R> {
  if (!route || typeof route !== 'object')
    throw new InvalidOptionError('route cache options must be an object')
  const { type } = route
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) {
    throw new InvalidOptionError(
      `cache type must be letters, digits, '_', '-' or '.'; got ${JSON.stringify(type)}`,
    )
  }
  const typeTtl = shared.typesMs.get(type)
  if (route.ttl === undefined && typeTtl === undefined) {
    throw new InvalidOptionError(
      `unknown cache type '${type}': declare it in \`types\` or give the route a ttl (known: ${[...shared.typesMs.keys()].join(', ')})`,
    )
  }
  const scope = route.scope ?? 'public'
  if (scope !== 'public' && scope !== 'user' && scope !== 'role') {
    throw new InvalidOptionError(`scope must be 'public', 'user' or 'role'; got ${JSON.stringify(scope)}`)
  }
  if (scope === 'user' && !shared.getUser) {
    throw new InvalidOptionError(
      `route of type '${type}' has scope 'user' but no getUser(request) was configured`,
    )
  }
  if (scope === 'role' && !shared.getRole) {
    throw new InvalidOptionError(
      `route of type '${type}' has scope 'role' but no getRole(request) was configured`,
    )
  }
  if (route.grace !== undefined && route.grace !== false) toMs(route.grace, 'grace')
  if (route.key !== undefined && typeof route.key !== 'function') {
    throw new InvalidOptionError('key must be a function (request) => string')
  }
  if (route.tags !== undefined && typeof route.tags !== 'function' && !Array.isArray(route.tags)) {
    throw new InvalidOptionError('tags must be an array of strings or a function (request) => string[]')
  }
  return {
    type,
    ttlMs: route.ttl === undefined ? typeTtl! : positiveMs(route.ttl, 'ttl'),
    grace: route.grace,
    tags: route.tags,
    scope,
    varyBy: headerNames(route.varyBy ?? [], 'varyBy').sort(),
    query: resolveQuery(route.query),
    key: route.key,
    shareAuthenticated: route.shareAuthenticated ?? false,
    exposeKey: scope === 'public' && (route.exposeKey ?? shared.exposeKey),
  }
}

function resolveQuery(query: RouteCacheOptions['query']): ResolvedRoute['query'] {
  if (query === undefined) return []
  if (query === 'all') return 'all'
  if (query === false) return false
  if (Array.isArray(query) && query.every((name) => typeof name === 'string')) return [...query].sort()
  throw new InvalidOptionError(
    `query must be 'all', false or a list of parameter names; got ${JSON.stringify(query)}`,
  )
}

function headerNames(names: readonly string[], option: string): string[] {
  if (!Array.isArray(names)) throw new InvalidOptionError(`${option} must be a list of header names`)
  return names.map((name) => {
    if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
      throw new InvalidOptionError(`${option}: ${JSON.stringify(name)} is not a header name`)
    }
    return name.toLowerCase()
  })
}

function hostNames(hosts: readonly string[]): string[] {
  if (!Array.isArray(hosts) || hosts.some((host) => typeof host !== 'string' || host === '')) {
    throw new InvalidOptionError(`hosts must be a list of host names; got ${JSON.stringify(hosts)}`)
  }
  return hosts.map((host) => host.toLowerCase())
}

function count(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(`${name} must be a whole number of at least 1; got ${JSON.stringify(value)}`)
  }
  return value
}
