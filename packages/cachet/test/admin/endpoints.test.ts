import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createWarmupRegistry } from '../../src/admin/index.js'
import { ADMIN, type AdminHarness, auditRecords, seed, startAdmin } from './setup.js'

let h: AdminHarness

const warmers = createWarmupRegistry()
  .register('config', async (ctx) => {
    await ctx.set('config:main:all', { theme: 'dark' })
    return undefined
  })
  .register('products', async (ctx) => {
    let keys = 0
    for (let i = 0; i < 5; i++) if (await ctx.set(`products:${i}:details`, { id: i, fresh: true })) keys++
    return { keys }
  })
  .register('broken', async () => {
    throw new Error('origin down\r\nforged line')
  })

beforeAll(async () => {
  h = await startAdmin({ warmers })
})
afterAll(async () => h.close())
beforeEach(async () => {
  await h.client.flushdb()
})

const call = (method: 'GET' | 'POST' | 'DELETE' | 'PATCH', url: string, payload?: unknown) =>
  h.app.inject({ method, url: `/api/cache${url}`, headers: ADMIN, payload: payload as object })

describe('GET /stats', () => {
  it("answers seed 004's figures, the engine's counters and per-namespace keys and memory", async () => {
    await seed(h.cache, 'users', 3)
    await seed(h.cache, 'products', 2)
    await h.cache.get('users:0')
    await h.cache.get('nothing:here')
    const response = await call('GET', '/stats')
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.success).toBe(true)
    expect(typeof body.timestamp).toBe('string')
    const data = body.data
    expect(data.connected).toBe(true)
    expect(data.version).toMatch(/^\d+\.\d+/)
    expect(data.memory).toMatch(/^[\d.]+[BKMG]$/)
    expect(data.keyCount).toBeGreaterThanOrEqual(5)
    expect(data.hitRate).toMatch(/^\d+(\.\d)?%$/)
    expect(typeof data.uptime).toBe('string')
    expect(data.cache.hits).toBeGreaterThanOrEqual(1)
    expect(data.namespaces.users.keys).toBe(3)
    expect(data.namespaces.users.bytes).toBeGreaterThan(0)
    expect(data.namespaces.products.keys).toBe(2)
    expect(data.redis.usedMemory).toBeGreaterThan(0)
  })

  it("answers seed 001's status and cache_stats block beside seed 004's data", async () => {
    h.cache.resetStats()
    await seed(h.cache, 'dashboard', 3)
    for (const key of ['dashboard:0', 'dashboard:1', 'dashboard:absent']) await h.cache.get(key)
    const body = (await call('GET', '/stats')).json()
    expect(body.status).toBe('success')
    // The seed's example: {"hits": 1247, "misses": 153, "errors": 2, "total_requests": 1400, "hit_rate": 89.07, "is_available": true}
    expect(body.cache_stats).toEqual({
      hits: 2,
      misses: 1,
      errors: 0,
      total_requests: 3,
      hit_rate: 66.67,
      is_available: true,
    })
    expect(body.data.hitRate).toBe('66.7%')
  })
})

describe('POST /clear', () => {
  it('clears a pattern, relative or with the prefix, and reports the count', async () => {
    await seed(h.cache, 'users', 4)
    await seed(h.cache, 'products', 2)
    const response = await call('POST', '/clear', { pattern: 'cache:users:*' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({
      success: true,
      message: 'Cache cleared for pattern: users:*',
      stats: { keysDeleted: 4 },
    })
    expect(await h.cache.get('users:1')).toBeUndefined()
    expect(await h.cache.get('products:1')).toEqual({ namespace: 'products', i: 1 })
  })

  it('needs confirm: true to clear everything, and then keeps non-cache keys', async () => {
    await seed(h.cache, 'users', 2)
    await h.client.set('other:app:key', 'keep')
    const refused = await call('POST', '/clear', {})
    expect(refused.statusCode).toBe(400)
    expect(refused.json().message).toMatch(/^body\.confirm/)
    expect(await h.cache.get('users:0')).toBeDefined()
    const cleared = await call('POST', '/clear', { confirm: true })
    expect(cleared.json()).toMatchObject({
      success: true,
      message: 'Full cache cleared',
      stats: { keysDeleted: 2 },
    })
    expect(await h.cache.get('users:0')).toBeUndefined()
    expect(await h.client.get('other:app:key')).toBe('keep')
    expect(await h.client.exists('cache:__audit')).toBe(1)
  })

  it('dry run counts and samples without deleting', async () => {
    await seed(h.cache, 'users', 3)
    const response = await call('POST', '/clear', { pattern: 'users:*', dryRun: true })
    expect(response.json()).toMatchObject({ success: true, stats: { keysMatched: 3 } })
    expect(response.json().details.sample).toHaveLength(3)
    const everything = await call('POST', '/clear', { dryRun: true })
    expect(everything.json().stats.keysMatched).toBe(3)
    expect(await h.cache.get('users:2')).toBeDefined()
  })

  it('POST /clear-all needs confirm too', async () => {
    await seed(h.cache, 'users', 2)
    expect((await call('POST', '/clear-all')).statusCode).toBe(400)
    expect(await h.cache.get('users:0')).toBeDefined()
    const cleared = await call('POST', '/clear-all', { confirm: true })
    expect(cleared.json().stats.keysDeleted).toBe(2)
  })
})

describe('DELETE /invalidate', () => {
  it('invalidates keys, patterns and tags with a count per item', async () => {
    await seed(h.cache, 'users', 3, ['user-data'])
    await seed(h.cache, 'products', 4)
    await seed(h.cache, 'seo', 2, ['seo'])
    const response = await call('DELETE', '/invalidate', {
      keys: ['users:0', 'cache:users:1', 'users:missing'],
      patterns: ['products:*'],
      tags: ['seo'],
    })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    // Seed 004 §2.5: details.keys is the array of keys asked for; keyCounts says which existed.
    expect(body.details.keys).toEqual(['users:0', 'users:1', 'users:missing'])
    expect(body.details.keyCounts).toEqual({ 'users:0': 1, 'users:1': 1, 'users:missing': 0 })
    expect(body.details.patterns).toEqual({ 'products:*': 4 })
    expect(body.details.tags).toEqual({ seo: 2 })
    expect(body.stats).toMatchObject({ keysInvalidated: 8, patternsProcessed: 1, tagsProcessed: 1 })
    expect(await h.cache.get('users:2')).toBeDefined()
    expect(await h.cache.get('seo:0')).toBeUndefined()
  })

  it('dry run counts and deletes nothing', async () => {
    await seed(h.cache, 'users', 3)
    await seed(h.cache, 'promo', 4, ['sale'])
    await h.cache.delete('promo:3') // a tombstone left in the tag's index is not counted
    const response = await call('DELETE', '/invalidate', {
      keys: ['users:0', 'users:9'],
      patterns: ['users:*'],
      tags: ['sale', 'never-used'],
      dryRun: true,
    })
    expect(response.json().details).toMatchObject({
      keys: ['users:0', 'users:9'],
      keyCounts: { 'users:0': 1, 'users:9': 0 },
      patterns: { 'users:*': 3 },
      tags: { sale: 3, 'never-used': 0 },
    })
    expect(response.json().stats.keysMatched).toBe(1 + 3 + 3)
    expect(await h.cache.get('users:0')).toBeDefined()
    expect(await h.cache.get('promo:0')).toBeDefined()
    // The dry run's count is what the real invalidation then reports.
    const real = await call('DELETE', '/invalidate', { tags: ['sale'] })
    expect(real.json().details.tags).toEqual({ sale: 3 })
  })

  it("tagMode 'expire' keeps the entries as stale copies; an unknown mode is a 400", async () => {
    await h.cache.set('deal:1', 'd', { tags: ['deals'], grace: '1h' })
    const soft = await call('DELETE', '/invalidate', { tags: ['deals'], tagMode: 'expire' })
    expect(soft.json().details.tags).toEqual({ deals: 1 })
    expect(await h.cache.get('deal:1')).toBeUndefined()
    expect(await h.cache.get('deal:1', { allowStale: true })).toBe('d')
    const bad = await call('DELETE', '/invalidate', { tags: ['deals'], tagMode: 'soft' })
    expect(bad.statusCode).toBe(400)
  })

  it("seed 001's aliases: POST /invalidate/:type and POST /invalidate-pattern", async () => {
    await seed(h.cache, 'dashboard', 3)
    await seed(h.cache, 'search', 2)
    const byType = await call('POST', '/invalidate/dashboard')
    expect(byType.json()).toMatchObject({ success: true, details: { patterns: { 'dashboard:*': 3 } } })
    expect(await h.cache.get('dashboard:0')).toBeUndefined()
    const byPattern = await call('POST', '/invalidate-pattern', { pattern: 'cache:search:*' })
    expect(byPattern.json().details.patterns).toEqual({ 'search:*': 2 })
    expect(await h.cache.get('search:1')).toBeUndefined()
  })
})

describe('GET /keys and /keys/:key', () => {
  it('lists every key on one page when they fit', async () => {
    await seed(h.cache, 'users', 60)
    await seed(h.cache, 'other', 5)
    const data = (await call('GET', '/keys?pattern=users:*&limit=100')).json().data
    expect(data.keys.map((k: { key: string }) => k.key).sort()).toEqual(
      Array.from({ length: 60 }, (_, i) => `users:${i}`).sort(),
    )
    expect(data.pagination).toMatchObject({ total: 60, returned: 60, hasMore: false, nextCursor: null })
  })

  it('lists keys with type, ttl and size, paginated by cursor', async () => {
    await seed(h.cache, 'users', 150)
    const seen = new Set<string>()
    let cursor: string | null = null
    let pages = 0
    do {
      const query: string = `?pattern=users:*&limit=100${cursor ? `&cursor=${cursor}` : ''}`
      const response = await call('GET', `/keys${query}`)
      expect(response.statusCode).toBe(200)
      const data = response.json().data
      expect(data.keys.length).toBeLessThanOrEqual(100)
      for (const key of data.keys) {
        expect(key).toMatchObject({ type: 'string' })
        expect(key.ttl).toBeGreaterThan(0)
        expect(key.size).toMatch(/^[\d.]+[BK]$/)
        seen.add(key.key)
      }
      // Seed 004 §2.6: every page says how many keys match in all.
      expect(data.pagination.total).toBe(150)
      cursor = data.pagination.nextCursor
      pages++
    } while (cursor && pages < 50)
    // Every key across the pages (SCAN semantics: a key may come twice if Redis rehashes meanwhile).
    expect(seen.size).toBe(150)
    for (const key of seen) expect(key).toMatch(/^users:\d+$/)
  })

  it('inspects, re-expires and deletes one key', async () => {
    await h.cache.set('users:42', { name: 'Ada' }, { tags: ['people'] })
    const inspected = await call('GET', '/keys/cache:users:42')
    expect(inspected.json().data).toMatchObject({
      key: 'users:42',
      state: 'fresh',
      value: { name: 'Ada' },
      tags: ['people'],
    })
    const patched = await call('PATCH', '/keys/users:42', { ttl: '10m' })
    expect(patched.statusCode).toBe(200)
    // The new ttl is the entry's freshness; Redis keeps it `grace` longer.
    const fresh = await h.cache.ttl('users:42')
    expect(fresh).toBeGreaterThan(9 * 60_000)
    expect(fresh).toBeLessThanOrEqual(10 * 60_000)
    // Every unit of the engine's durations, weeks included.
    expect((await call('PATCH', '/keys/users:42', { ttl: '2w' })).statusCode).toBe(200)
    expect(await h.cache.ttl('users:42')).toBeGreaterThan(13 * 86_400_000)
    expect((await call('DELETE', '/keys/users:42')).statusCode).toBe(200)
    expect(await h.cache.get('users:42')).toBeUndefined()
    expect((await call('GET', '/keys/users:404')).statusCode).toBe(404)
    expect((await call('PATCH', '/keys/users:404', { ttl: 1000 })).statusCode).toBe(404)
  })

  it('shows the etag and lastModified a loader stored; a PATCH of the ttl keeps them', async () => {
    const modified = Date.parse('2026-11-30T12:00:00Z')
    await h.cache.getOrSet('docs:1', (ctx) => {
      ctx.setEtag('"v1"')
      ctx.setLastModified(modified)
      return { body: 'text' }
    })
    const validators = { etag: '"v1"', lastModified: modified }
    const shown = async () => (await call('GET', '/keys/docs:1')).json().data
    for (let i = 0; i < 100 && (await shown()).etag === undefined; i++)
      await new Promise((r) => setTimeout(r, 10))
    expect(await shown()).toMatchObject(validators)
    expect((await call('PATCH', '/keys/docs:1', { ttl: '10m' })).statusCode).toBe(200)
    expect(await shown()).toMatchObject(validators)
  })
})

describe('POST /warmup', () => {
  it('runs the registered modules and reports keys created, errors and duration', async () => {
    const response = await call('POST', '/warmup', { modules: ['config', 'products', 'broken'] })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.stats).toMatchObject({ modulesWarmed: ['config', 'products'], keysCreated: 6, errors: 1 })
    expect(body.stats.duration).toMatch(/ms$|s$/)
    const broken = body.details.results.find((r: { module: string }) => r.module === 'broken')
    expect(broken.error).toBe('origin down\\x0d\\x0aforged line')
    expect(await h.cache.get('config:main:all')).toEqual({ theme: 'dark' })
  })

  it('keeps existing entries unless force', async () => {
    await h.cache.set('products:0:details', { id: 0, fresh: false })
    const kept = await call('POST', '/warmup', { modules: ['products'] })
    expect(kept.json().stats.keysCreated).toBe(4)
    expect(await h.cache.get('products:0:details')).toEqual({ id: 0, fresh: false })
    const forced = await call('POST', '/warmup', { modules: ['products'], force: true })
    expect(forced.json().stats.keysCreated).toBe(5)
    expect(await h.cache.get('products:0:details')).toEqual({ id: 0, fresh: true })
  })

  it('runs as a job followed by GET /warmup/:jobId and its SSE stream', async () => {
    const started = await call('POST', '/warmup', { modules: ['products'], wait: false })
    expect(started.statusCode).toBe(202)
    const { jobId } = started.json().data
    const events = await call('GET', `/warmup/${jobId}/events`)
    expect(events.headers['content-type']).toMatch(/^text\/event-stream/)
    expect(events.body).toContain('event: state')
    expect(events.body).toContain('event: done')
    const job = await call('GET', `/warmup/${jobId}`)
    expect(job.json().data).toMatchObject({ id: jobId, status: 'completed', keysCreated: 5 })
    const list = await call('GET', '/warmup')
    expect(list.json().data.modules.map((m: { name: string }) => m.name)).toEqual([
      'config',
      'products',
      'broken',
    ])
  })

  it('refuses unknown modules naming them', async () => {
    const response = await call('POST', '/warmup', { modules: ['vehicles'] })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toMatch(/^body\.modules: .*vehicles/)
  })
})

describe('audit trail', () => {
  it('records every mutating call once, readable via GET /audit, newest first', async () => {
    await seed(h.cache, 'users', 2)
    await call('POST', '/clear', { pattern: 'users:*' })
    await call('POST', '/clear', { pattern: 'users:*', dryRun: true })
    await call('POST', '/clear', {})
    const records = await auditRecords(h.client)
    const clears = records.filter((r) => r.action === 'clear')
    expect(clears.map((r) => r.outcome)).toEqual(['ok', 'dry-run', 'error'])
    expect(clears[0]).toMatchObject({
      who: expect.stringMatching(/^token:[0-9a-f]{8}$/),
      keysAffected: 2,
      status: 200,
    })
    expect(typeof clears[0]!.at).toBe('number')
    expect(typeof clears[0]!.durationMs).toBe('number')
    expect(JSON.stringify(records)).not.toContain('test-admin-token')

    const page1 = await call('GET', '/audit?limit=2&action=clear')
    const data1 = page1.json().data
    expect(data1.records.map((r: { outcome: string }) => r.outcome)).toEqual(['error', 'dry-run'])
    const page2 = await call('GET', `/audit?limit=2&action=clear&cursor=${data1.pagination.nextCursor}`)
    expect(page2.json().data.records.map((r: { outcome: string }) => r.outcome)).toEqual(['ok'])
  })

  it('escapes CR, LF and ANSI in recorded params', async () => {
    await call('POST', '/clear', { pattern: 'users:*\r\n\u001b[31mFAKE' })
    const [record] = (await auditRecords(h.client)).filter((r) => r.action === 'clear')
    const json = JSON.stringify(record)
    expect(json).toContain('\\\\x0d\\\\x0a\\\\x1b[31mFAKE')
    expect(json).not.toMatch(/\\r|\\n|\\u001b/)
  })
})
