import { createHash } from 'node:crypto'

/** Response headers kept with a cached body. Never Set-Cookie, hop-by-hop or per-request (CORS, Date) headers. */
export const STORED_HEADERS: readonly string[] = [
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'content-location',
  'content-type',
  'etag',
  'expires',
  'last-modified',
  'link',
  'vary',
  'x-content-type-options',
]

/** A response as the handler produced it, captured by an adapter. */
export interface CapturedResponse {
  status: number
  headers: Record<string, number | string | readonly string[] | undefined>
  body: Buffer
}

/** What a response entry holds in the cache (the engine's codec compresses it above its threshold). */
export interface StoredResponse {
  /** Layout version, so a future layout can read (or skip) this one. */
  v: 1
  status: number
  /** Allow-listed headers, lowercase names. */
  headers: Record<string, string>
  /** The body: UTF-8 text when it is valid UTF-8 (compresses well), else base64. */
  body: string
  encoding: 'utf8' | 'base64'
  /** Strong validator: the handler's ETag, or one computed from the body. */
  etag: string
  /** When the handler produced it (epoch ms): gives Age and freshness. */
  storedAt: number
  /** The route's freshness when stored, in ms. */
  ttlMs: number
}

/** Turns a captured response into a storable entry: allow-listed headers, encoded body, an ETag. */
export function toStored(
  captured: CapturedResponse,
  allowed: ReadonlySet<string>,
  ttlMs: number,
): StoredResponse {
  const headers: Record<string, string> = {}
  for (const [rawName, value] of Object.entries(captured.headers)) {
    const name = rawName.toLowerCase()
    if (value === undefined || !allowed.has(name)) continue
    headers[name] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  const text = captured.body.toString('utf8')
  // Invalid UTF-8 does not survive a round trip through a string: store those bytes as base64.
  const isText = Buffer.from(text, 'utf8').equals(captured.body)
  const etag = headers.etag ?? bodyEtag(captured.body)
  headers.etag = etag
  return {
    v: 1,
    status: captured.status,
    headers,
    body: isText ? text : captured.body.toString('base64'),
    encoding: isText ? 'utf8' : 'base64',
    etag,
    storedAt: Date.now(),
    ttlMs,
  }
}

/** The body bytes of a stored entry. */
export function storedBody(stored: StoredResponse): Buffer {
  return Buffer.from(stored.body, stored.encoding)
}

/** True when a value read from the cache has the layout this version writes. */
export function isStoredResponse(value: unknown): value is StoredResponse {
  const entry = value as StoredResponse | null
  return (
    entry !== null &&
    typeof entry === 'object' &&
    entry.v === 1 &&
    typeof entry.status === 'number' &&
    typeof entry.body === 'string' &&
    typeof entry.headers === 'object' &&
    typeof entry.storedAt === 'number'
  )
}

/** A strong ETag from the body: 128 bits of SHA-256, base64url. */
export function bodyEtag(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
}
