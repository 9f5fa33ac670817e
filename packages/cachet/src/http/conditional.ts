import type { IncomingHttpHeaders } from 'node:http'

/**
 * RFC 9110 §13.1: If-None-Match (weak comparison, `*`, lists) wins; If-Modified-Since is only read
 * when there is no If-None-Match. True when the client's copy is current and a 304 can be sent.
 */
export function isNotModified(request: IncomingHttpHeaders, etag?: string, lastModified?: string): boolean {
  const ifNoneMatch = request['if-none-match']
  if (ifNoneMatch !== undefined) {
    if (etag === undefined) return false
    if (ifNoneMatch.trim() === '*') return true
    const current = opaque(etag)
    return ifNoneMatch.split(',').some((tag) => opaque(tag.trim()) === current)
  }
  const ifModifiedSince = request['if-modified-since']
  if (ifModifiedSince === undefined || lastModified === undefined) return false
  const since = Date.parse(ifModifiedSince)
  const modified = Date.parse(lastModified)
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

/** Headers a 304 keeps (RFC 9110 §15.4.5); the body and its content headers go. */
export const NOT_MODIFIED_HEADERS: ReadonlySet<string> = new Set([
  'cache-control',
  'content-location',
  'etag',
  'expires',
  'vary',
  'last-modified',
])
