import type { IncomingHttpHeaders } from 'node:http'
import { hashKey, InvalidKeyError, stableStringify } from '../index.js'
import type { ResolvedRoute } from './options.js'

/** What the key is built from: the request as the router understood it, never the raw URL bytes. */
export interface KeyInput {
  /** The host the framework resolved (honours its trust-proxy setting): one app may serve several sites. */
  host: string
  /** The route's pattern as the router registered it ('/api/users/:id'), or the routed path. */
  route: string
  /** Route parameters as the router decoded them. */
  params: unknown
  /** The query as the framework parsed it (the object the handler reads). */
  query: unknown
  headers: IncomingHttpHeaders
}

/** The scope segment of a key: '' (public), 'u:<id>:' or 'r:<role>:'. */
export function scopeSegment(scope: 'public' | 'user' | 'role', principal?: string): string {
  if (scope === 'public') return ''
  return `${scope === 'user' ? 'u' : 'r'}:${encodePrincipal(principal!)}:`
}

/**
 * Percent-encodes a user id or role so it holds no ':' (one id can never read as another id plus a
 * key suffix); escapeGlob() then makes it literal in a pattern.
 */
export function encodePrincipal(principal: string): string {
  return encodeURIComponent(principal)
}

/**
 * The key of a response, relative to the cache prefix: `${type}:${scope}${hash}` where the hash
 * covers GET (HEAD shares it), the host, the route, its params, the (sorted) query and the varied headers;
 * or `${type}:${scope}k:${custom}` with a custom key function.
 */
export function buildCacheKey(route: ResolvedRoute, input: KeyInput, scope: string, custom?: string): string {
  if (custom !== undefined) return `${route.type}:${scope}k:${checkCustomKey(custom)}`
  return `${route.type}:${scope}${isPlain(route, input) ? plainHash(route, input) : hashOf(material(route, input))}`
}

/** Type-tagged (an object, an array of pairs and a string differ) with object keys sorted at every level. */
function material(route: ResolvedRoute, input: KeyInput): string {
  return stableStringify([
    'GET',
    input.host.toLowerCase(),
    input.route,
    input.params ?? {},
    route.query === false ? null : pickQuery(input.query ?? {}, route.query),
    route.varyBy.map((name) => headerValue(input.headers, name)),
  ])
}

/** Hashes of recent key material: a hot route's requests repeat it, and SHA-256 was most of a hit's key cost. */
const recentHashes = new Map<string, string>()
/** The same for plain requests (see isPlain), by host and route: their material is not even built. */
const plainHashes = new Map<string, string>()
const MAX_RECENT_HASHES = 4096

function hashOf(material: string): string {
  let hash = recentHashes.get(material)
  if (hash === undefined) {
    hash = hashKey(material, 32)
    remember(recentHashes, material, hash)
  }
  return hash
}

/** A request whose key depends on its host and route alone: no params, no query read, no varied header. */
function isPlain(route: ResolvedRoute, input: KeyInput): boolean {
  return route.varyBy.length === 0 && isEmpty(input.params) && (route.query === false || isEmpty(input.query))
}

function plainHash(route: ResolvedRoute, input: KeyInput): string {
  const id = `${route.query === false ? '-' : '?'}${input.host}\n${input.route}`
  let hash = plainHashes.get(id)
  if (hash === undefined) {
    hash = hashOf(material(route, input))
    remember(plainHashes, id, hash)
  }
  return hash
}

/** Bounded: hostile traffic with ever-new material empties a memo rather than growing it. */
function remember(memo: Map<string, string>, id: string, hash: string): void {
  if (memo.size >= MAX_RECENT_HASHES) memo.clear()
  memo.set(id, hash)
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null) return true
  if (typeof value !== 'object') return false
  for (const _ in value) return false
  return true
}

function checkCustomKey(custom: unknown): string {
  // Printable ASCII only: no spaces or control characters that could forge log lines or keys.
  if (typeof custom !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(custom)) {
    throw new InvalidKeyError(
      `a custom key function must return 1..512 printable ASCII characters without spaces; got ${JSON.stringify(custom)}`,
    )
  }
  return custom
}

function pickQuery(query: unknown, allowed: 'all' | string[]): unknown {
  if (allowed === 'all' || query === null || typeof query !== 'object') return query
  const picked: Record<string, unknown> = {}
  for (const name of allowed) {
    if (Object.hasOwn(query, name)) picked[name] = (query as Record<string, unknown>)[name]
  }
  return picked
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name]
  if (value === undefined) return null
  return Array.isArray(value) ? value.join(', ') : value
}
