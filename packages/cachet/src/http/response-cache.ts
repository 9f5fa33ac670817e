import type { IncomingHttpHeaders } from 'node:http'
import { type CacheResult, type CallOptions, InvalidKeyError, toMs } from '../index.js'
import { buildCacheKey, scopeSegment } from './cache-key.js'
import { type BypassReason, inputBypass, requestBypass, responseBypass } from './cache-policy.js'
import { isNotModified, NOT_MODIFIED_HEADERS } from './conditional.js'
import { type EntryCounts, type EntryLimit, entryCounts } from './entry-counts.js'
import { NotStorableError, PendingFill } from './fill.js'
import { type CacheState, cacheHeaders } from './headers.js'
import {
  type ResolvedResponseCacheOptions,
  type ResolvedRoute,
  type ResponseCacheOptions,
  type RouteCacheOptions,
  resolveResponseCacheOptions,
  resolveRoute,
} from './options.js'
import {
  type CapturedResponse,
  isStoredResponse,
  type StoredResponse,
  storedBody,
  toStored,
} from './stored-response.js'

/** A request as an adapter sees it: the router's view (pattern, params, parsed query), never raw bytes. */
export interface RequestView<R> {
  /** The framework's request, handed to getUser, getRole, key and tags functions. */
  request: R
  method: string
  /** The host as the framework resolved it (request.hostname). */
  host: string
  /** The matched route pattern ('/api/users/:id'). */
  route: string
  params: unknown
  query: unknown
  headers: IncomingHttpHeaders
}

/** What the adapter sends: status, headers to remove then set, body (ignored by the server for HEAD). */
export interface Reply {
  status: number
  headers: Record<string, string>
  remove: readonly string[]
  body: Buffer
}

/** The part of a request that runs the handler and hands its response to the cache. */
export interface Fill {
  /** A larger body is not captured: the adapter sends it untouched and calls abort('body-size'). */
  readonly maxBodyBytes: number
  /** The reply to send for the handler's response: the same response plus cache headers, a 304, or a stale entry in place of a failure. */
  complete(response: CapturedResponse): Promise<Reply>
  /** The response cannot be captured (a stream, a lost connection): release waiters; returns headers to add. */
  abort(reason: BypassReason): Record<string, string>
}

/** What to do with a request: answer from the cache, run the handler untouched, or run it and fill the cache. */
export type Decision =
  | { action: 'reply'; reply: Reply }
  | { action: 'handle'; headers: Record<string, string> }
  | { action: 'fill'; fill: Fill }

type Lookup =
  | { kind: 'owner'; fill: PendingFill; result: Promise<CacheResult<StoredResponse>>; claim: 'new' | 'known' }
  | { kind: 'value'; result: CacheResult<StoredResponse> }
  | { kind: 'error'; error: unknown }

interface Context<R> {
  view: RequestView<R>
  route: ResolvedRoute<R>
  key: string
  /** The key as the engine's events name it (a namespace view adds its scope). */
  eventKey: string
  fullKey: string
  /** The type as entries are counted per type: with the namespace scope. */
  countedType: string
  limit: EntryLimit
}

/** Content headers of a handler's response that a replacing reply (stale entry, 304) removes. */
const CONTENT_HEADERS = [
  'cache-control',
  'content-encoding',
  'content-language',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'last-modified',
  'set-cookie',
  'vary',
]
/** Upper bound on how long waiters wait for a handler whose response never reaches the cache. */
const FILL_TIMEOUT_MS = 60_000
/** The engine's default grace, for routes without their own: the engine does not expose its setting. */
const DEFAULT_GRACE_MS = 3_600_000
/** The engine's ttl jitter (±10%): an entry may live this much longer than its ttl + grace. */
const JITTER = 1.1

/** The framework-agnostic response cache: one per adapter instance; adapters are thin wrappers. */
export class ResponseCache<R = any> {
  readonly options: ResolvedResponseCacheOptions<R>
  readonly #counts: EntryCounts
  /** The namespace scope of the cache view ('' at the root). */
  readonly #scope: string

  constructor(options: ResponseCacheOptions<R>) {
    this.options = resolveResponseCacheOptions(options)
    this.#counts = entryCounts(this.options.cache)
    this.#scope = this.options.cache.scope
  }

  /** Validates a route's options once, when the route is declared. */
  route(options: RouteCacheOptions<R>): ResolvedRoute<R> {
    return resolveRoute(options, this.options)
  }

  /** Decides how to answer a request on a cached route. */
  async begin(view: RequestView<R>, route: ResolvedRoute<R>): Promise<Decision> {
    const reason = requestBypass(view.method, view.headers, route, this.options.credentialCookies)
    if (reason) return this.#bypass(reason, reason === 'method' ? 'method' : 'bypass', route)
    const undeclared = inputBypass(view, route, this.options.hosts)
    if (undeclared) return this.#bypass(undeclared, 'bypass', route)
    let scope = ''
    let owner: string | undefined
    if (route.scope !== 'public') {
      const getter = route.scope === 'user' ? this.options.getUser! : this.options.getRole!
      const principal = await getter(view.request)
      if (principal === null || principal === undefined || principal === '') {
        return this.#bypass('no-principal', 'bypass', route)
      }
      scope = scopeSegment(route.scope, String(principal))
      if (route.scope === 'user') owner = String(principal)
    }
    let key: string
    try {
      key = buildCacheKey(route, view, scope, route.key?.(view.request))
    } catch (error) {
      // A custom key made of request input the key rules refuse (spaces, 600 characters…): the
      // request is answered, uncached, rather than failed.
      if (error instanceof InvalidKeyError) return this.#bypass('key', 'bypass', route)
      throw error
    }
    const eventKey = this.#scope + key
    const context: Context<R> = {
      view,
      route,
      key,
      eventKey,
      fullKey: `${this.options.cache.prefix}:${eventKey}`,
      countedType: this.#scope + route.type,
      limit: {
        perType: this.options.maxEntriesPerType,
        owner,
        perOwner: this.options.maxEntriesPerUser,
      },
    }
    // HEAD reads GET's entry but never fills it: the server drops the body, so there is nothing to store.
    if (view.method === 'HEAD') return this.#readOnly(context, { outcome: 'MISS', stored: false })
    if (!this.#counts.admits(context.countedType, eventKey, context.limit)) {
      // A new variant past its type's (or its user's) cap is served if stored already (by another
      // process), else answered without being stored; existing entries are never evicted to make room.
      return this.#readOnly(context, { outcome: 'BYPASS', reason: 'entry-limit', forwarded: 'miss' })
    }
    return this.#get(context)
  }

  /** Answers from the entry when there is one, else lets the handler answer (`miss` says how) without filling. */
  async #readOnly(context: Context<R>, miss: CacheState): Promise<Decision> {
    const entry = await this.options.cache.get(context.key).catch(() => undefined)
    if (isStoredResponse(entry))
      return { action: 'reply', reply: this.#fromEntry(context, entry, { outcome: 'HIT', collapsed: false }) }
    return { action: 'handle', headers: this.#headers(context, miss) }
  }

  async #get(context: Context<R>): Promise<Decision> {
    const found = await this.#lookup(context)
    if (found.kind === 'owner') return { action: 'fill', fill: this.#fill(context, found) }
    if (found.kind === 'value' && isStoredResponse(found.result.value)) {
      const { result } = found
      const state: CacheState =
        result.outcome === 'stale' ? { outcome: 'STALE' } : { outcome: 'HIT', collapsed: result.shared }
      return { action: 'reply', reply: this.#fromEntry(context, result.value, state) }
    }
    return this.#bypass(lookupFailure(found), 'miss', context.route, context)
  }

  /**
   * getOrSet with this request's handler as the loader. The engine calls the loader at most once per
   * key (in this process and, with its lock, across processes): if it calls ours while we wait, this
   * request runs the handler; otherwise we get the value another request (or process) produced.
   */
  #lookup(context: Context<R>): Promise<Lookup> {
    const { route, view, key } = context
    return new Promise<Lookup>((resolve) => {
      // Set once this request is answered (by the engine's value, or as the owner of the fill).
      let answered = false
      const loader = (): Promise<StoredResponse> => {
        // The engine may start the load after serving a stale entry (stale-while-revalidate): by then
        // this request was answered and has no handler left to run, so the load declines and the entry
        // stays as it is.
        if (answered) return Promise.reject(new NotStorableError('handler-error', key))
        // Concurrent new variants may all have been admitted: only those that still fit are stored.
        const claim = this.#counts.claim(
          context.countedType,
          context.eventKey,
          lifetimeMs(route),
          context.limit,
        )
        if (claim === 'full') return Promise.reject(new NotStorableError('entry-limit', key))
        answered = true
        const fill = new PendingFill(key, FILL_TIMEOUT_MS)
        resolve({ kind: 'owner', fill, result, claim })
        return fill.promise
      }
      const tags = typeof route.tags === 'function' ? route.tags(view.request) : route.tags
      // No early (background) refresh: the loader is a live request's handler, absent by then.
      const options: CallOptions = { ttl: route.ttlMs, earlyRefresh: false }
      if (route.grace !== undefined) options.grace = route.grace
      if (tags !== undefined) options.tags = tags
      const result = this.options.cache.getOrSetResult<StoredResponse>(key, loader, options)
      result.then(
        (found) => {
          answered = true
          resolve({ kind: 'value', result: found })
        },
        (error: unknown) => {
          answered = true
          resolve({ kind: 'error', error })
        },
      )
    })
  }

  #fill(context: Context<R>, owner: Extract<Lookup, { kind: 'owner' }>): Fill {
    const { fill, result } = owner
    // The owner answers from its own response; the engine's result only matters after a failure.
    result.catch(() => {})
    const notStored = (reason: BypassReason) => {
      fill.reject(new NotStorableError(reason, context.key))
      if (owner.claim === 'new') this.#counts.release(context.countedType, context.eventKey)
    }
    return {
      maxBodyBytes: this.options.maxBodyBytes,
      complete: async (response) => {
        const reason = responseBypass(response, context.route)
        if (reason === undefined) {
          const entry = toStored(response, this.options.storeHeaders, context.route.ttlMs)
          fill.resolve(entry)
          // Resolves right after the fill: it tells whether Redis took part.
          const stored = await result.catch(() => undefined)
          return this.#fromOwn(context, response, entry, stored?.degraded === true)
        }
        notStored(reason)
        if (reason === 'status' && response.status >= 500) {
          // Fail-safe: the engine answers a failed loader with the stale entry when it has one.
          const fallback = await result.catch(() => undefined)
          if (fallback?.outcome === 'stale' && isStoredResponse(fallback.value))
            return this.#fromEntry(context, fallback.value, { outcome: 'STALE' }, true)
        }
        return {
          status: response.status,
          headers: this.#headers(context, { outcome: 'BYPASS', reason, forwarded: 'miss' }),
          remove: [],
          body: response.body,
        }
      },
      abort: (reason) => {
        notStored(reason)
        return this.#headers(context, { outcome: 'BYPASS', reason, forwarded: 'miss' })
      },
    }
  }

  #fromOwn(context: Context<R>, response: CapturedResponse, entry: StoredResponse, degraded: boolean): Reply {
    // Redis unreachable: the response was produced without the shared tier; say so.
    const state: CacheState = degraded
      ? { outcome: 'BYPASS', reason: 'cache-unavailable', forwarded: 'miss' }
      : { outcome: 'MISS', stored: true }
    const headers = { ...this.#headers(context, state, entry), etag: entry.etag }
    return this.#conditional(
      context,
      { status: response.status, headers, remove: [], body: response.body },
      entry,
    )
  }

  #fromEntry(context: Context<R>, entry: StoredResponse, state: CacheState, replacing = false): Reply {
    const headers = { ...entry.headers, ...this.#headers(context, state, entry) }
    const reply = {
      status: entry.status,
      headers,
      remove: replacing ? CONTENT_HEADERS : [],
      body: storedBody(entry),
    }
    return this.#conditional(context, reply, entry)
  }

  #conditional(context: Context<R>, reply: Reply, entry: StoredResponse): Reply {
    if (
      reply.status !== 200 ||
      !isNotModified(context.view.headers, entry.etag, entry.headers['last-modified'])
    ) {
      return reply
    }
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(reply.headers)) {
      if (
        NOT_MODIFIED_HEADERS.has(name) ||
        name.startsWith('x-cache') ||
        name === 'cache-status' ||
        name === 'age'
      ) {
        headers[name] = value
      }
    }
    return { status: 304, headers, remove: CONTENT_HEADERS, body: Buffer.alloc(0) }
  }

  #headers(
    context: Context<R> | undefined,
    state: CacheState,
    entry?: StoredResponse,
  ): Record<string, string> {
    const route = context?.route
    const headers = cacheHeaders(state, {
      fullKey: context?.fullKey,
      exposeKey: route?.exposeKey ?? this.options.exposeKey,
      scope: route?.scope ?? 'public',
      entry,
    })
    if (route && route.varyBy.length > 0 && state.outcome !== 'BYPASS') headers.vary = route.varyBy.join(', ')
    return headers
  }

  #bypass(
    reason: BypassReason,
    forwarded: 'bypass' | 'method' | 'miss',
    route: ResolvedRoute<R>,
    context?: Context<R>,
  ): Decision {
    const headers = cacheHeaders(
      { outcome: 'BYPASS', reason, forwarded },
      { fullKey: context?.fullKey, exposeKey: route.exposeKey, scope: route.scope },
    )
    return { action: 'handle', headers }
  }
}

/** Why a lookup gave no entry: the response was not storable, the engine refused the key or a tag, or the cache failed. */
function lookupFailure(found: Lookup): BypassReason {
  if (found.kind !== 'error') return 'cache-unavailable'
  if (found.error instanceof NotStorableError) return found.error.reason
  // Key rules (length, characters) refuse a key or tag made of request input (a long user id, a tags function).
  return found.error instanceof InvalidKeyError ? 'key' : 'cache-unavailable'
}

/** How long an entry of this route stays in Redis at most: its ttl plus grace, jitter included. */
function lifetimeMs(route: ResolvedRoute): number {
  const grace = route.grace === undefined ? DEFAULT_GRACE_MS : route.grace === false ? 0 : toMs(route.grace)
  return Math.ceil((route.ttlMs + grace) * JITTER)
}
