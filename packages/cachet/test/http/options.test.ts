import { describe, expect, it } from 'vitest'
import { resolveResponseCacheOptions, resolveRoute } from '../../src/http/options.js'
import { createCache, InvalidOptionError } from '../../src/index.js'

const cache = createCache({ l1: { maxBytes: 1024 * 1024 }, logger: false })

describe('response cache options', () => {
  it('uses the seed 001 ttls per type, overridable, with custom types', () => {
    const shared = resolveResponseCacheOptions({ cache, types: { search: '10m', report: '15m' } })
    expect(resolveRoute({ type: 'dashboard' }, shared).ttlMs).toBe(300_000)
    expect(resolveRoute({ type: 'user' }, shared).ttlMs).toBe(1_800_000)
    expect(resolveRoute({ type: 'product' }, shared).ttlMs).toBe(7_200_000)
    expect(resolveRoute({ type: 'analytics' }, shared).ttlMs).toBe(600_000)
    expect(resolveRoute({ type: 'search' }, shared).ttlMs).toBe(600_000)
    expect(resolveRoute({ type: 'report' }, shared).ttlMs).toBe(900_000)
    expect(resolveRoute({ type: 'dashboard', ttl: '1m' }, shared).ttlMs).toBe(60_000)
  })

  it('rejects bad options with errors that name them', () => {
    const shared = resolveResponseCacheOptions({ cache })
    expect(() => resolveResponseCacheOptions({ cache: {} as never })).toThrow(/createCache/)
    expect(() => resolveRoute({ type: 'nope' }, shared)).toThrow(/unknown cache type 'nope'/)
    expect(() => resolveRoute({ type: 'a:b', ttl: 1 }, shared)).toThrow(InvalidOptionError)
    expect(() => resolveRoute({ type: 'user', scope: 'user' }, shared)).toThrow(/getUser/)
    expect(() => resolveRoute({ type: 'user', scope: 'role' }, shared)).toThrow(/getRole/)
    expect(() => resolveRoute({ type: 'dashboard', ttl: 0 }, shared)).toThrow(/ttl/)
    expect(() => resolveRoute({ type: 'dashboard', varyBy: ['bad header'] }, shared)).toThrow(/varyBy/)
    expect(() => resolveRoute({ type: 'dashboard', query: 'some' as never }, shared)).toThrow(/query/)
  })

  it('defaults to no query parameters, no X-Cache-Key, 10,000 entries per type, 1,000 per user, 1 MiB bodies', () => {
    const shared = resolveResponseCacheOptions({ cache, getUser: () => 'u' })
    expect(shared.exposeKey).toBe(false)
    expect(shared.hosts).toBeUndefined()
    expect(shared.maxEntriesPerType).toBe(10_000)
    expect(shared.maxEntriesPerUser).toBe(1000)
    expect(shared.maxBodyBytes).toBe(1024 * 1024)
    expect(resolveRoute({ type: 'search' }, shared).query).toEqual([])
    expect(resolveRoute({ type: 'search', query: ['q', 'page'] }, shared).query).toEqual(['page', 'q'])
  })

  it('sends X-Cache-Key only on public routes that ask for it', () => {
    const shared = resolveResponseCacheOptions({ cache, getUser: () => 'u', exposeKey: true })
    expect(resolveRoute({ type: 'search' }, shared).exposeKey).toBe(true)
    expect(resolveRoute({ type: 'search', exposeKey: false }, shared).exposeKey).toBe(false)
    expect(resolveRoute({ type: 'user', scope: 'user', exposeKey: true }, shared).exposeKey).toBe(false)
  })

  it('validates hosts, maxEntriesPerType, maxEntriesPerUser and maxBodyBytes', () => {
    expect(resolveResponseCacheOptions({ cache, hosts: ['Shop.Test'] }).hosts).toEqual(new Set(['shop.test']))
    expect(() => resolveResponseCacheOptions({ cache, hosts: [''] })).toThrow(/hosts/)
    expect(() => resolveResponseCacheOptions({ cache, hosts: 'shop.test' as never })).toThrow(/hosts/)
    expect(() => resolveResponseCacheOptions({ cache, maxEntriesPerType: 0 })).toThrow(/maxEntriesPerType/)
    expect(() => resolveResponseCacheOptions({ cache, maxBodyBytes: 1.5 })).toThrow(/maxBodyBytes/)
    expect(() => resolveResponseCacheOptions({ cache, maxEntriesPerUser: -1 })).toThrow(/maxEntriesPerUser/)
  })
})
