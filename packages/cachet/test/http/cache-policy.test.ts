import { describe, expect, it } from 'vitest'
import { inputBypass, requestBypass, responseBypass } from '../../src/http/cache-policy.js'
import { isNotModified } from '../../src/http/conditional.js'
import { cacheHeaders } from '../../src/http/headers.js'
import { resolveResponseCacheOptions, resolveRoute } from '../../src/http/options.js'
import { toStored } from '../../src/http/stored-response.js'
import { createCache } from '../../src/index.js'

const cache = createCache({ l1: { maxBytes: 1024 * 1024 }, logger: false })
const shared = resolveResponseCacheOptions({ cache })
const publicRoute = resolveRoute({ type: 'dashboard' }, shared)
const ok = (headers: Record<string, string> = {}, status = 200) => ({
  status,
  headers,
  body: Buffer.from('x'),
})

describe('inputBypass', () => {
  const host = 'shop.test'
  it('bypasses a query parameter the route does not list, unless it keys on all or none', () => {
    expect(inputBypass({ host, query: {} }, publicRoute, undefined)).toBeUndefined()
    expect(inputBypass({ host, query: { cb: '1' } }, publicRoute, undefined)).toBe('query')
    const listed = resolveRoute({ type: 'search', query: ['q'] }, shared)
    expect(inputBypass({ host, query: { q: 'x' } }, listed, undefined)).toBeUndefined()
    expect(inputBypass({ host, query: { q: 'x', utm_source: 'm' } }, listed, undefined)).toBe('query')
    for (const query of ['all', false] as const) {
      const route = resolveRoute({ type: 'search', query }, shared)
      expect(inputBypass({ host, query: { cb: '1' } }, route, undefined)).toBeUndefined()
    }
  })

  it('bypasses a host outside `hosts`, whatever its case', () => {
    const hosts = new Set(['shop.test'])
    expect(inputBypass({ host: 'SHOP.test', query: {} }, publicRoute, hosts)).toBeUndefined()
    expect(inputBypass({ host: 'evil.test', query: {} }, publicRoute, hosts)).toBe('host')
    expect(inputBypass({ host: 'shop.test:8080', query: {} }, publicRoute, hosts)).toBe('host')
    expect(inputBypass({ host: 'evil.test', query: {} }, publicRoute, undefined)).toBeUndefined()
  })
})

describe('requestBypass', () => {
  it('caches only GET and HEAD without a body', () => {
    expect(requestBypass('GET', {}, publicRoute, undefined)).toBeUndefined()
    expect(requestBypass('HEAD', {}, publicRoute, undefined)).toBeUndefined()
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      expect(requestBypass(method, {}, publicRoute, undefined)).toBe('method')
    }
    expect(requestBypass('GET', { 'content-length': '5' }, publicRoute, undefined)).toBe('request-body')
    expect(requestBypass('GET', { 'transfer-encoding': 'chunked' }, publicRoute, undefined)).toBe(
      'request-body',
    )
  })

  it('keeps credentialed requests off shared entries unless the route allows it', () => {
    expect(requestBypass('GET', { authorization: 'Bearer x' }, publicRoute, undefined)).toBe('authenticated')
    expect(requestBypass('GET', { cookie: 'sid=1' }, publicRoute, undefined)).toBe('authenticated')
    expect(requestBypass('GET', { cookie: '_ga=1' }, publicRoute, new Set(['sid']))).toBeUndefined()
    expect(requestBypass('GET', { cookie: '_ga=1; sid=2' }, publicRoute, new Set(['sid']))).toBe(
      'authenticated',
    )
    const shareable = resolveRoute({ type: 'dashboard', shareAuthenticated: true }, shared)
    expect(requestBypass('GET', { authorization: 'Bearer x' }, shareable, undefined)).toBeUndefined()
  })
})

describe('responseBypass', () => {
  it('stores 2xx (but 206) without Set-Cookie, private/no-store/no-cache or an unkeyed Vary', () => {
    expect(responseBypass(ok(), publicRoute)).toBeUndefined()
    expect(responseBypass(ok({}, 204), publicRoute)).toBeUndefined()
    for (const status of [206, 301, 304, 400, 404, 500, 503])
      expect(responseBypass(ok({}, status), publicRoute)).toBe('status')
    expect(responseBypass(ok({ 'Set-Cookie': 'a=1' }), publicRoute)).toBe('set-cookie')
    for (const value of ['private', 'no-store', 'no-cache', 'public, no-store', 'private="x"']) {
      expect(responseBypass(ok({ 'cache-control': value }), publicRoute), value).toBe('cache-control')
    }
    expect(responseBypass(ok({ 'cache-control': 'public, max-age=60' }), publicRoute)).toBeUndefined()
    expect(responseBypass(ok({ vary: '*' }), publicRoute)).toBe('vary')
    expect(responseBypass(ok({ vary: 'Accept-Language' }), publicRoute)).toBe('vary')
    const varied = resolveRoute({ type: 'dashboard', varyBy: ['accept-language'] }, shared)
    expect(responseBypass(ok({ vary: 'Accept-Language' }), varied)).toBeUndefined()
  })
})

describe('stored responses and headers', () => {
  it('keeps allow-listed headers only, and a strong ETag from the body', () => {
    const stored = toStored(
      {
        status: 200,
        headers: {
          'Content-Type': 'text/plain',
          'set-cookie': 'a=1',
          connection: 'keep-alive',
          'x-internal': 'y',
        },
        body: Buffer.from('hello'),
      },
      shared.storeHeaders,
      60_000,
    )
    expect(stored.headers).toEqual({ 'content-type': 'text/plain', etag: stored.etag })
    expect(stored.etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/)
    expect(stored).toMatchObject({ body: 'hello', encoding: 'utf8', status: 200 })
    const binary = toStored(
      { status: 200, headers: {}, body: Buffer.from([0xff, 0x00, 0xfe]) },
      shared.storeHeaders,
      1,
    )
    expect(binary.encoding).toBe('base64')
  })

  it('describes the outcome in X-Cache and RFC 9211 Cache-Status', () => {
    const entry = toStored({ status: 200, headers: {}, body: Buffer.from('x') }, shared.storeHeaders, 300_000)
    const hit = cacheHeaders(
      { outcome: 'HIT', collapsed: false },
      {
        fullKey: 'cache:dashboard:ab',
        exposeKey: true,
        scope: 'public',
        entry,
        now: entry.storedAt + 10_000,
      },
    )
    expect(hit).toMatchObject({
      'x-cache': 'HIT',
      age: '10',
      'cache-control': 'public, max-age=300',
      'x-cache-key': 'cache:dashboard:ab',
    })
    expect(hit['cache-status']).toBe('cachet; hit; ttl=290; key="cache:dashboard:ab"')
    const user = cacheHeaders(
      { outcome: 'MISS', stored: true },
      { exposeKey: false, scope: 'user', entry, now: entry.storedAt },
    )
    expect(user['cache-control']).toBe('private, max-age=300')
    expect(user['x-cache-key']).toBeUndefined()
    const bypass = cacheHeaders(
      { outcome: 'BYPASS', reason: 'authenticated', forwarded: 'bypass' },
      { exposeKey: true, scope: 'public' },
    )
    expect(bypass).toEqual({
      'x-cache': 'BYPASS',
      'cache-status': 'cachet; fwd=bypass; detail=authenticated',
    })
  })

  it('answers conditional requests (If-None-Match first, weak comparison)', () => {
    expect(isNotModified({ 'if-none-match': '"a"' }, '"a"')).toBe(true)
    expect(isNotModified({ 'if-none-match': 'W/"a", "b"' }, '"a"')).toBe(true)
    expect(isNotModified({ 'if-none-match': '*' }, '"a"')).toBe(true)
    expect(isNotModified({ 'if-none-match': '"b"' }, '"a"')).toBe(false)
    const lastModified = new Date(Date.UTC(2026, 0, 1)).toUTCString()
    expect(isNotModified({ 'if-modified-since': lastModified }, '"a"', lastModified)).toBe(true)
    expect(
      isNotModified({ 'if-none-match': '"b"', 'if-modified-since': lastModified }, '"a"', lastModified),
    ).toBe(false)
  })
})
