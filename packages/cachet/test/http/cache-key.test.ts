import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildCacheKey, scopeSegment } from '../../src/http/cache-key.js'
import { resolveResponseCacheOptions, resolveRoute } from '../../src/http/options.js'
import { createCache } from '../../src/index.js'

const cache = createCache({ l1: { maxBytes: 1024 * 1024 }, logger: false })
const shared = resolveResponseCacheOptions({ cache, getUser: () => undefined })
const route = (options: Parameters<typeof resolveRoute>[0]) => resolveRoute(options, shared)
const input = (query: unknown, headers: Record<string, string> = {}, params: unknown = {}) => ({
  host: 'example.test',
  route: '/api/search',
  params,
  query,
  headers,
})

describe('buildCacheKey', () => {
  it('is type:hash with a 32-hex hash', () => {
    expect(buildCacheKey(route({ type: 'search' }), input({ q: 'x' }), '')).toMatch(/^search:[0-9a-f]{32}$/)
  })

  it('ignores the order of query parameters but not their values or repeated order', () => {
    const r = route({ type: 'search', query: 'all' })
    expect(buildCacheKey(r, input({ a: '1', b: '2' }), '')).toBe(
      buildCacheKey(r, input({ b: '2', a: '1' }), ''),
    )
    expect(buildCacheKey(r, input({ a: '1', b: '2' }), '')).not.toBe(
      buildCacheKey(r, input({ a: '1', b: '3' }), ''),
    )
    expect(buildCacheKey(r, input({ a: ['1', '2'] }), '')).not.toBe(
      buildCacheKey(r, input({ a: ['2', '1'] }), ''),
    )
  })

  it('keys only on allow-listed parameters, or on none', () => {
    const listed = route({ type: 'search', query: ['q'] })
    expect(buildCacheKey(listed, input({ q: 'x', utm_source: 'mail' }), '')).toBe(
      buildCacheKey(listed, input({ q: 'x' }), ''),
    )
    const none = route({ type: 'search', query: false })
    expect(buildCacheKey(none, input({ q: 'x' }), '')).toBe(buildCacheKey(none, input({ q: 'y' }), ''))
  })

  it('includes declared vary headers and nothing else from the headers', () => {
    const plain = route({ type: 'search' })
    expect(buildCacheKey(plain, input({}, { 'x-forwarded-host': 'evil' }), '')).toBe(
      buildCacheKey(plain, input({}), ''),
    )
    const varied = route({ type: 'search', varyBy: ['Accept-Language'] })
    expect(buildCacheKey(varied, input({}, { 'accept-language': 'fr' }), '')).not.toBe(
      buildCacheKey(varied, input({}, { 'accept-language': 'en' }), ''),
    )
  })

  it('includes the host, route params and the route pattern', () => {
    const r = route({ type: 'product' })
    expect(buildCacheKey(r, { ...input({}), host: 'a.test' }, '')).not.toBe(
      buildCacheKey(r, { ...input({}), host: 'b.test' }, ''),
    )
    expect(buildCacheKey(r, input({}, {}, { id: '1' }), '')).not.toBe(
      buildCacheKey(r, input({}, {}, { id: '2' }), ''),
    )
    expect(buildCacheKey(r, { ...input({}), route: '/a' }, '')).not.toBe(
      buildCacheKey(r, { ...input({}), route: '/b' }, ''),
    )
  })

  it('gives a request with no params and no query the key its material gives, whichever way it is built', () => {
    const r = route({ type: 'product' })
    // An inherited key is not part of the material: this request takes the general path, the other the
    // one for plain requests; both must land on the same entry.
    const general = buildCacheKey(r, input(Object.create({ inherited: '1' })), '')
    expect(buildCacheKey(r, input({}), '')).toBe(general)
    expect(buildCacheKey(r, { ...input({}), host: 'EXAMPLE.test' }, '')).toBe(general)
    // What the plain path remembers is per host, route and query mode.
    expect(buildCacheKey(route({ type: 'product', query: false }), input({}), '')).not.toBe(general)
    expect(buildCacheKey(r, { ...input({}), route: '/api/other' }, '')).not.toBe(general)
    expect(buildCacheKey(r, { ...input({}), host: 'other.test' }, '')).not.toBe(general)
  })

  it('puts the scope segment and custom keys in readable, collision-free places', () => {
    const r = route({ type: 'user' })
    expect(buildCacheKey(r, input({}), scopeSegment('user', '42'))).toMatch(/^user:u:42:[0-9a-f]{32}$/)
    expect(buildCacheKey(r, input({}), scopeSegment('role', 'admin'), 'profile:7')).toBe(
      'user:r:admin:k:profile:7',
    )
    expect(buildCacheKey(r, input({}), '', 'profile:7')).toBe('user:k:profile:7')
    // A ':' in a user id cannot make it read as another id plus a suffix.
    expect(scopeSegment('user', 'a:k')).toBe('u:a%3Ak:')
  })

  it('refuses custom keys with spaces or control characters', () => {
    expect(() => buildCacheKey(route({ type: 'user' }), input({}), '', 'a b')).toThrow(/printable ASCII/)
    expect(() => buildCacheKey(route({ type: 'user' }), input({}), '', 'a\nb')).toThrow(/printable ASCII/)
  })
})

describe('key canonical form', () => {
  const all = route({ type: 'search', query: 'all' })
  const key = (query: unknown) => buildCacheKey(all, input(query), '')

  it('tells objects, arrays of pairs, arrays and strings apart', () => {
    expect(key({ filter: { status: 'open' } })).not.toBe(key({ filter: [['status', 'open']] }))
    expect(key({ a: ['1'] })).not.toBe(key({ a: '1' }))
    expect(key({ a: {} })).not.toBe(key({ a: [] }))
    expect(key({ a: { 0: 'x' } })).not.toBe(key({ a: ['x'] }))
    expect(key({ b: { d: '1', c: '2' } })).toBe(key({ b: { c: '2', d: '1' } }))
  })

  it('never gives a nested object the key of its entries as pairs', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string(), { minKeys: 1 }), (object) => {
        expect(key({ f: object })).not.toBe(key({ f: Object.entries(object) }))
      }),
    )
  })
})
