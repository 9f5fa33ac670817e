import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { invalidateType, invalidateUser } from '../../src/http/invalidate.js'
import { type CacheApi, createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import type { BuildApp, Harness, TestResult, TestRoute } from './harness.js'

const HASH = '[0-9a-f]{32}'

/**
 * The behaviour every adapter must show against a real redis-server: one suite, run once per
 * framework (fastify.test.ts, express.test.ts, nestjs.test.ts).
 */
export function responseCacheContract(framework: string, build: BuildApp): void {
  describe(`${framework} response cache (real Redis)`, () => {
    let redis: TestRedis
    let cache: CacheApi
    let app: Harness | undefined

    beforeAll(async () => {
      redis = await startRedis()
    })
    afterAll(async () => {
      await redis.stop()
    })
    afterEach(async () => {
      await app?.close()
      app = undefined
      await cache?.close()
    })

    /** A fresh cache and app; `handle` is counted. */
    async function start(
      routes: Array<Omit<TestRoute, 'handle'> & { handle: TestRoute['handle'] }>,
      prefix = 'cache',
    ) {
      cache = createCache({ redis: redis.url, prefix, logger: false })
      await cache.clear()
      const calls = new Map<string, number>()
      const counted = routes.map((route) => ({
        ...route,
        handle: (request: Parameters<TestRoute['handle']>[0]) => {
          calls.set(route.path, (calls.get(route.path) ?? 0) + 1)
          return route.handle(request)
        },
      }))
      app = await build({ cache, routes: counted })
      return { app, calls: (path: string) => calls.get(path) ?? 0 }
    }

    it('answers MISS then HIT with the same body and content type, under {prefix}:{type}:{hash}', async () => {
      const { app, calls } = await start([
        {
          path: '/api/dashboard',
          cache: { type: 'dashboard' },
          handle: () => ({ body: { kpis: [1, 2, 3] } }),
        },
      ])
      const first = await app.request('/api/dashboard')
      const second = await app.request('/api/dashboard')
      expect(first.status).toBe(200)
      expect(first.headers.get('x-cache')).toBe('MISS')
      expect(second.headers.get('x-cache')).toBe('HIT')
      expect(second.body).toBe(first.body)
      expect(JSON.parse(second.body)).toEqual({ kpis: [1, 2, 3] })
      expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'))
      expect(second.headers.get('content-type')).toMatch(/^application\/json/)
      expect(first.headers.get('x-cache-key')).toMatch(new RegExp(`^cache:dashboard:${HASH}$`))
      expect(second.headers.get('x-cache-key')).toBe(first.headers.get('x-cache-key'))
      expect(second.headers.get('cache-status')).toMatch(/^cachet; hit; ttl=\d+; key="cache:dashboard:/)
      expect(first.headers.get('cache-status')).toMatch(/^cachet; fwd=miss; stored; ttl=(299|300);/)
      expect(second.headers.get('cache-control')).toBe('public, max-age=300')
      expect(second.headers.get('etag')).toBe(first.headers.get('etag'))
      expect(second.headers.get('age')).toMatch(/^\d+$/)
      expect(calls('/api/dashboard')).toBe(1)
      // The entry really is in Redis, under the documented key.
      const key = first.headers.get('x-cache-key')!.slice('cache:'.length)
      expect(await cache.has(key)).toBe(true)
    })

    it('shares one key between ?a=1&b=2 and ?b=2&a=1, and keeps distinct queries apart', async () => {
      const { app, calls } = await start([
        { path: '/api/search', cache: { type: 'search' }, handle: (r) => ({ body: { q: r.query } }) },
      ])
      const ab = await app.request('/api/search?a=1&b=2')
      const ba = await app.request('/api/search?b=2&a=1')
      const other = await app.request('/api/search?a=1&b=3')
      expect(ba.headers.get('x-cache')).toBe('HIT')
      expect(ba.headers.get('x-cache-key')).toBe(ab.headers.get('x-cache-key'))
      expect(other.headers.get('x-cache')).toBe('MISS')
      expect(other.headers.get('x-cache-key')).not.toBe(ab.headers.get('x-cache-key'))
      expect(JSON.parse(other.body)).toEqual({ q: { a: '1', b: '3' } })
      expect(calls('/api/search')).toBe(2)
    })

    it('gives each user their own entry on a user-scoped route, marked private', async () => {
      const { app, calls } = await start([
        {
          path: '/api/me',
          cache: { type: 'user', scope: 'user' },
          handle: (r) => ({ body: { balance: `of ${r.user}` } }),
        },
      ])
      const alice = await app.request('/api/me', { headers: { authorization: 'Bearer alice' } })
      const bob = await app.request('/api/me', { headers: { authorization: 'Bearer bob' } })
      const aliceAgain = await app.request('/api/me', { headers: { authorization: 'Bearer alice' } })
      const bobAgain = await app.request('/api/me', { headers: { authorization: 'Bearer bob' } })
      expect(JSON.parse(alice.body)).toEqual({ balance: 'of alice' })
      expect(JSON.parse(bob.body)).toEqual({ balance: 'of bob' })
      expect(bob.headers.get('x-cache')).toBe('MISS')
      expect(JSON.parse(aliceAgain.body)).toEqual({ balance: 'of alice' })
      expect(JSON.parse(bobAgain.body)).toEqual({ balance: 'of bob' })
      expect(aliceAgain.headers.get('x-cache')).toBe('HIT')
      expect(alice.headers.get('x-cache-key')).toMatch(new RegExp(`^cache:user:u:alice:${HASH}$`))
      expect(aliceAgain.headers.get('cache-control')).toBe('private, max-age=1800')
      // No principal: nothing is read or stored; a refused token never reaches the cache.
      const anonymous = await app.request('/api/me')
      expect(anonymous.headers.get('x-cache')).toBe('BYPASS')
      const refused = await app.request('/api/me', { headers: { authorization: 'Bearer bad' } })
      expect(refused.status).toBe(401)
      expect(refused.body).not.toContain('balance')
      expect(calls('/api/me')).toBe(3)
      // Invalidate one user: the other keeps their entry.
      expect(await invalidateUser(cache, 'alice')).toBe(1)
      expect(
        (await app.request('/api/me', { headers: { authorization: 'Bearer alice' } })).headers.get('x-cache'),
      ).toBe('MISS')
      expect(
        (await app.request('/api/me', { headers: { authorization: 'Bearer bob' } })).headers.get('x-cache'),
      ).toBe('HIT')
    })

    it('never serves nor stores a shared entry for a request carrying Authorization or a cookie', async () => {
      const { app, calls } = await start([
        {
          path: '/api/news',
          cache: { type: 'dashboard' },
          handle: (r) => ({ body: { for: r.user ?? (r.headers.cookie ? 'cookie' : 'anyone') } }),
        },
      ])
      // An authenticated request first: its personalised body must not become the shared entry.
      const authed = await app.request('/api/news', { headers: { authorization: 'Bearer alice' } })
      expect(authed.headers.get('x-cache')).toBe('BYPASS')
      expect(authed.headers.get('cache-status')).toContain('detail=authenticated')
      const anonymous = await app.request('/api/news')
      expect(anonymous.headers.get('x-cache')).toBe('MISS')
      expect(JSON.parse(anonymous.body)).toEqual({ for: 'anyone' })
      // Then the shared entry exists, and an authenticated or cookie request still does not get it.
      const authedAgain = await app.request('/api/news', { headers: { authorization: 'Bearer bob' } })
      expect(JSON.parse(authedAgain.body)).toEqual({ for: 'bob' })
      const withCookie = await app.request('/api/news', { headers: { cookie: 'sid=abc' } })
      expect(JSON.parse(withCookie.body)).toEqual({ for: 'cookie' })
      expect((await app.request('/api/news')).headers.get('x-cache')).toBe('HIT')
      expect(calls('/api/news')).toBe(4)
    })

    it('does not store responses with Set-Cookie, Cache-Control private/no-store, or an error status', async () => {
      let failing = true
      const { app, calls } = await start([
        {
          path: '/cookie',
          cache: { type: 'dashboard' },
          handle: () => ({ headers: { 'set-cookie': 'sid=secret' }, body: 'x' }),
        },
        {
          path: '/private',
          cache: { type: 'dashboard' },
          handle: () => ({ headers: { 'cache-control': 'private' }, body: 'x' }),
        },
        {
          path: '/nostore',
          cache: { type: 'dashboard' },
          handle: () => ({ headers: { 'cache-control': 'no-store' }, body: 'x' }),
        },
        {
          path: '/flaky',
          cache: { type: 'dashboard' },
          handle: () => (failing ? { status: 500, body: { error: 'boom' } } : { body: 'ok' }),
        },
        {
          path: '/missing',
          cache: { type: 'dashboard' },
          handle: () => ({ status: 404, body: 'not found' }),
        },
        { path: '/throws', cache: { type: 'dashboard' }, handle: () => ({ throws: true, body: null }) },
      ])
      for (const path of ['/cookie', '/private', '/nostore', '/flaky', '/missing', '/throws']) {
        const first = await app.request(path)
        const second = await app.request(path)
        expect(first.headers.get('x-cache'), path).toBe('BYPASS')
        expect(second.headers.get('x-cache'), path).toBe('BYPASS')
        expect(calls(path), path).toBe(2)
      }
      expect((await app.request('/cookie')).headers.get('set-cookie')).toBe('sid=secret')
      expect((await app.request('/throws')).status).toBe(500)
      // Once the handler recovers, a clean request gets a 200 (the 500 was never stored: no CPDoS).
      failing = false
      const recovered = await app.request('/flaky')
      expect(recovered.status).toBe(200)
      expect(recovered.headers.get('x-cache')).toBe('MISS')
    })

    it('answers 304 to a matching If-None-Match, on a hit and on the miss that filled the entry', async () => {
      const { app } = await start([
        { path: '/api/product', cache: { type: 'product' }, handle: () => ({ body: { sku: 1 } }) },
      ])
      const first = await app.request('/api/product')
      const etag = first.headers.get('etag')!
      expect(etag).toMatch(/^(W\/)?".+"$/)
      const notModified = await app.request('/api/product', { headers: { 'if-none-match': etag } })
      expect(notModified.status).toBe(304)
      expect(notModified.body).toBe('')
      expect(notModified.headers.get('x-cache')).toBe('HIT')
      const other = await app.request('/api/product', { headers: { 'if-none-match': '"other"' } })
      expect(other.status).toBe(200)
      expect(JSON.parse(other.body)).toEqual({ sku: 1 })
    })

    it('runs the handler once for 100 concurrent requests on a cold route', async () => {
      const { app, calls } = await start([
        {
          path: '/api/analytics',
          cache: { type: 'analytics' },
          handle: () => ({ delayMs: 100, body: { total: 42 } }),
        },
      ])
      const responses = await Promise.all(Array.from({ length: 100 }, () => app.request('/api/analytics')))
      expect(calls('/api/analytics')).toBe(1)
      for (const response of responses) {
        expect(response.status).toBe(200)
        expect(JSON.parse(response.body)).toEqual({ total: 42 })
      }
      expect(responses.filter((r) => r.headers.get('x-cache') === 'MISS')).toHaveLength(1)
    })

    it('releases concurrent waiters when the handler fails, and stores nothing', async () => {
      const { app, calls } = await start([
        {
          path: '/api/fails',
          cache: { type: 'analytics' },
          handle: () => ({ delayMs: 50, status: 503, body: 'down' }),
        },
      ])
      const responses = await Promise.all(Array.from({ length: 10 }, () => app.request('/api/fails')))
      for (const response of responses) {
        expect(response.status).toBe(503)
        expect(response.headers.get('x-cache')).toBe('BYPASS')
      }
      expect(calls('/api/fails')).toBeGreaterThanOrEqual(1)
      expect((await cache.keys({ pattern: 'analytics:*' })).keys).toHaveLength(0)
    })

    it('serves the stale entry (STALE) when the handler fails after the ttl', async () => {
      let failing = false
      const { app } = await start([
        {
          path: '/api/report',
          cache: { type: 'report', ttl: 100, grace: '1m' },
          handle: (): TestResult => (failing ? { status: 500, body: 'error' } : { body: { report: 'v1' } }),
        },
      ])
      await app.request('/api/report')
      failing = true
      await new Promise((resolve) => setTimeout(resolve, 300))
      const stale = await app.request('/api/report')
      expect(stale.status).toBe(200)
      expect(stale.headers.get('x-cache')).toBe('STALE')
      expect(JSON.parse(stale.body)).toEqual({ report: 'v1' })
    })

    it('lets HEAD read the GET entry but never fill it, and never caches POST', async () => {
      const { app, calls } = await start([
        { path: '/api/head', cache: { type: 'dashboard' }, handle: () => ({ body: { full: true } }) },
      ])
      const head = await app.request('/api/head', { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.headers.get('x-cache')).toBe('MISS')
      const get = await app.request('/api/head')
      expect(get.headers.get('x-cache')).toBe('MISS')
      expect(JSON.parse(get.body)).toEqual({ full: true })
      const headHit = await app.request('/api/head', { method: 'HEAD' })
      expect(headHit.headers.get('x-cache')).toBe('HIT')
      expect(calls('/api/head')).toBe(2)
      const post = await app.request('/api/head', { method: 'POST' })
      expect(JSON.parse(post.body)).toEqual({ posted: true })
      expect((await app.request('/api/head')).headers.get('x-cache')).toBe('HIT')
    })

    it('does not store a streamed body', async () => {
      const { app, calls } = await start([
        {
          path: '/api/stream',
          cache: { type: 'dashboard' },
          handle: () => ({ stream: true, body: 'chunked' }),
        },
      ])
      const first = await app.request('/api/stream')
      const second = await app.request('/api/stream')
      expect(first.body).toBe('chunked')
      expect(second.body).toBe('chunked')
      expect(second.headers.get('x-cache')).toBe('BYPASS')
      expect(calls('/api/stream')).toBe(2)
    })

    it('invalidates by type', async () => {
      const { app, calls } = await start([
        { path: '/api/dashboard', cache: { type: 'dashboard' }, handle: () => ({ body: 'd' }) },
        { path: '/api/search', cache: { type: 'search' }, handle: () => ({ body: 's' }) },
      ])
      await app.request('/api/dashboard')
      await app.request('/api/search')
      expect(await invalidateType(cache, 'dashboard')).toBe(1)
      expect((await app.request('/api/dashboard')).headers.get('x-cache')).toBe('MISS')
      expect((await app.request('/api/search')).headers.get('x-cache')).toBe('HIT')
      expect(calls('/api/dashboard')).toBe(2)
    })

    it('answers every request with 200 when Redis stops mid-test', async () => {
      const { app } = await start([
        { path: '/api/dashboard', cache: { type: 'dashboard' }, handle: () => ({ body: { ok: true } }) },
        { path: '/api/search', cache: { type: 'search' }, handle: (r) => ({ body: { q: r.query.q } }) },
      ])
      expect((await app.request('/api/dashboard')).status).toBe(200)
      await redis.kill()
      try {
        for (let i = 0; i < 20; i++) {
          const response = await app.request(i % 2 ? '/api/dashboard' : `/api/search?q=${i}`)
          expect(response.status).toBe(200)
        }
        const cold = await app.request('/api/search?q=after-outage')
        expect(cold.status).toBe(200)
        expect(JSON.parse(cold.body)).toEqual({ q: 'after-outage' })
        expect(cold.headers.get('x-cache')).toBe('BYPASS')
      } finally {
        await redis.restart()
      }
    })
  })
}
