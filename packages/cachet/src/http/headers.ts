import type { BypassReason } from './cache-policy.js'
import type { CacheScope } from './options.js'
import type { StoredResponse } from './stored-response.js'

/** The `X-Cache` values of the Flask `@cache_response` decorator cachet replaces. */
export type CacheOutcome = 'HIT' | 'MISS' | 'STALE' | 'BYPASS'

/** How a response came to be, for the X-Cache / Cache-Status / Age headers. */
export type CacheState =
  | { outcome: 'HIT'; collapsed: boolean }
  | { outcome: 'STALE' }
  | { outcome: 'MISS'; stored: boolean }
  | { outcome: 'BYPASS'; reason: BypassReason; forwarded: 'bypass' | 'method' | 'miss' }

const CACHE_NAME = 'cachet'

/**
 * Headers describing the cache's part in a response: X-Cache, RFC 9211 Cache-Status, X-Cache-Key,
 * and, when an entry is involved, Age, ETag and a Cache-Control the handler did not set itself
 * (`private` for user and role scopes, so no shared cache downstream keeps it).
 */
export function cacheHeaders(
  state: CacheState,
  options: { fullKey?: string; exposeKey: boolean; scope: CacheScope; entry?: StoredResponse; now?: number },
): Record<string, string> {
  const { entry, fullKey } = options
  const now = options.now ?? Date.now()
  const headers: Record<string, string> = { 'x-cache': state.outcome }
  const params: string[] = []
  const ttlSeconds = entry ? Math.round((entry.storedAt + entry.ttlMs - now) / 1000) : undefined
  switch (state.outcome) {
    case 'HIT':
      params.push(state.collapsed ? 'fwd=miss; collapsed' : 'hit')
      break
    case 'STALE':
      params.push('hit')
      break
    case 'MISS':
      params.push(state.stored ? 'fwd=miss; stored' : 'fwd=miss')
      break
    case 'BYPASS':
      params.push(`fwd=${state.forwarded}`, `detail=${state.reason}`)
  }
  if (ttlSeconds !== undefined && state.outcome !== 'BYPASS') params.push(`ttl=${ttlSeconds}`)
  if (fullKey !== undefined && options.exposeKey) {
    headers['x-cache-key'] = fullKey
    params.push(`key=${sfString(fullKey)}`)
  }
  headers['cache-status'] = [CACHE_NAME, ...params].join('; ')
  if (entry && state.outcome !== 'BYPASS') {
    headers.age = String(Math.max(0, Math.floor((now - entry.storedAt) / 1000)))
    headers.etag = entry.etag
    if (entry.headers['cache-control'] === undefined) {
      const visibility = options.scope === 'public' ? 'public' : 'private'
      headers['cache-control'] = `${visibility}, max-age=${Math.round(entry.ttlMs / 1000)}`
    }
  }
  return headers
}

/** An RFC 8941 string: quoted, with '"' and '\' escaped. */
function sfString(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`
}
