import type { IncomingHttpHeaders } from 'node:http'
import type { ResolvedRoute } from './options.js'
import type { CapturedResponse } from './stored-response.js'

/** Why a request or a response does not go through the shared cache (RFC 9211 `detail`). */
export type BypassReason =
  | 'method'
  | 'request-body'
  | 'authenticated'
  | 'no-principal'
  | 'query'
  | 'key'
  | 'host'
  | 'entry-limit'
  | 'body-size'
  | 'status'
  | 'set-cookie'
  | 'cache-control'
  | 'vary'
  | 'streamed'
  | 'handler-error'
  | 'cache-unavailable'

/**
 * Whether a request may read or fill this route's entry; returns the reason when it may not.
 * Only GET and HEAD are cached; a GET with a body (an input the key cannot see) is not; a public route
 * never shares an entry with a request carrying credentials unless it says so (RFC 9111 §3.5).
 */
export function requestBypass(
  method: string,
  headers: IncomingHttpHeaders,
  route: ResolvedRoute,
  credentialCookies: ReadonlySet<string> | undefined,
): BypassReason | undefined {
  if (method !== 'GET' && method !== 'HEAD') return 'method'
  if (hasBody(headers)) return 'request-body'
  if (route.scope === 'public' && !route.shareAuthenticated && hasCredentials(headers, credentialCookies)) {
    return 'authenticated'
  }
  return undefined
}

/**
 * Whether the request's key inputs are ones the route keys on; returns the reason when they are not: a
 * query parameter outside the route's list (the handler may read it, so the entry of the listed ones
 * would be the wrong answer), or a host outside `hosts`. Bypassing keeps such requests from creating
 * entries, so their number stays bounded by what the route and the app declare.
 */
export function inputBypass(
  request: { host: string; query: unknown },
  route: ResolvedRoute,
  hosts: ReadonlySet<string> | undefined,
): BypassReason | undefined {
  if (hosts && !hosts.has(request.host.toLowerCase())) return 'host'
  const { query } = request
  if (Array.isArray(route.query) && query !== null && typeof query === 'object') {
    const declared = route.query
    if (Object.keys(query).some((name) => !declared.includes(name))) return 'query'
  }
  return undefined
}

function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length']
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined
}

function hasCredentials(
  headers: IncomingHttpHeaders,
  credentialCookies: ReadonlySet<string> | undefined,
): boolean {
  if (headers.authorization !== undefined) return true
  const cookie = headers.cookie
  if (cookie === undefined || cookie.trim() === '') return false
  if (!credentialCookies) return true
  return cookie.split(';').some((pair) => credentialCookies.has(pair.split('=')[0]!.trim()))
}

/**
 * Whether a handler's response may be stored; returns the reason when it may not: only 2xx but 206
 * (an error under the success key is cache-poisoned DoS), never Set-Cookie, never Cache-Control
 * no-store / private / no-cache, never a Vary on a header the key does not include.
 */
export function responseBypass(response: CapturedResponse, route: ResolvedRoute): BypassReason | undefined {
  if (response.status < 200 || response.status > 299 || response.status === 206) return 'status'
  const headers = lowerCase(response.headers)
  if (headers['set-cookie'] !== undefined) return 'set-cookie'
  const cacheControl = headerText(headers['cache-control']).toLowerCase()
  if (/(^|[\s,])(no-store|private|no-cache)($|[\s,=])/.test(cacheControl)) return 'cache-control'
  const vary = headerText(headers.vary)
  if (vary !== '') {
    const varied = vary.split(',').map((name) => name.trim().toLowerCase())
    if (varied.some((name) => name === '*' || (name !== '' && !route.varyBy.includes(name)))) return 'vary'
  }
  return undefined
}

function lowerCase(headers: CapturedResponse['headers']): CapturedResponse['headers'] {
  const lower: CapturedResponse['headers'] = {}
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value
  return lower
}

function headerText(value: CapturedResponse['headers'][string]): string {
  if (value === undefined) return ''
  return Array.isArray(value) ? value.join(', ') : String(value)
}
