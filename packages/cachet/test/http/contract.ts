import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { invalidateType, invalidateUser } from '../../src/http/invalidate.js'
import { type CacheApi, createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import type { BuildApp, Harness, SharedOptions, TestResponse, TestResult, TestRoute } from './harness.js'

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
    let client: Redis

    beforeAll(async () => {
      redis = await startRedis()
      client = new Redis(redis.url)
      // One test kills the server: the client reconnects by itself once it is back.
      client.on('error', () => {})
    })
    afterAll(async () => {
      client.disconnect()
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
      options: SharedOptions = {},
    ) {
      cache = createCache({ redis: redis.url, logger: false })
      await cache.clear()
      const calls = new Map<string, number>()
      const counted = routes.map((route) => ({
        ...route,
        handle: (request: Parameters<TestRoute['handle']>[0]) => {
          calls.set(route.path, (calls.get(route.path) ?? 0) + 1)
          return route.handle(request)
        },
      }))
      app = await build({ cache, routes: counted, options })
      return { app, calls: (path: string) => calls.get(path) ?? 0 }
    }

    /** The keys in the real Redis matching a SCAN pattern (full keys, prefix included). */
    async function redisKeys(match: string): Promise<string[]> {
      const keys: string[] = []
      let cursor = '0'
      do {
        const [next, page] = await client.scan(cursor, 'MATCH', match, 'COUNT', 1000)
        keys.push(...page)
        cursor = next
      } while (cursor !== '0')
      return keys
    }

    /** `count` requests, 50 at a time. */
    async function many(count: number, send: (i: number) => Promise<TestResponse>): Promise<TestResponse[]> {
      const responses: TestResponse[] = []
      for (let i = 0; i < count; i += 50) {
        const batch = Array.from({ length: Math.min(50, count - i) }, (_, j) => send(i + j))
        responses.push(...(await Promise.all(batch)))
      }
      return responses
    }

    it('answers MISS then HIT with the same body and content type, under {prefix}:{type}:{hash}', async () => {
      const { app, calls } = await start(
        [
          {
            path: '/api/dashboard',
            cache: { type: 'dashboard' },
            handle: () => ({ body: { kpis: [1, 2, 3] } }),
          },
        ],
        { exposeKey: true },
      )
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
      const { app, calls } = await start(
        [
          {
            path: '/api/search',
            cache: { type: 'search', query: ['a', 'b'] },
            handle: (r) => ({ body: { q: r.query } }),
          },
        ],
        { exposeKey: true },
      )
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
      expect(await redisKeys('cache:user:u:alice:*')).toEqual([
        expect.stringMatching(new RegExp(`:${HASH}$`)),
      ])
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

    it('stores nothing for 500 random ?cb= values on a route that declares no query parameter', async () => {
      const { app, calls } = await start([
        {
          path: '/api/dashboard',
          cache: { type: 'dashboard' },
          handle: (r) => ({ body: { cb: r.query.cb ?? null } }),
        },
      ])
      expect((await app.request('/api/dashboard')).headers.get('x-cache')).toBe('MISS')
      const cbs = Array.from({ length: 500 }, () => randomUUID())
      const responses = await many(500, (i) => app.request(`/api/dashboard?cb=${cbs[i]}`))
      responses.forEach((response, i) => {
        expect(response.status).toBe(200)
        // Each request still gets the response to its own query: bypassed, never a wrong entry.
        expect(JSON.parse(response.body)).toEqual({ cb: cbs[i] })
        expect(response.headers.get('x-cache')).toBe('BYPASS')
      })
      expect(responses[0]!.headers.get('cache-status')).toContain('detail=query')
      expect(await redisKeys('cache:dashboard:*')).toHaveLength(1)
      expect((await app.request('/api/dashboard')).headers.get('x-cache')).toBe('HIT')
      expect(calls('/api/dashboard')).toBe(501)
    })

    it('caches per declared query parameter and bypasses a request carrying any other', async () => {
      const { app } = await start([
        { path: '/api/search', cache: { type: 'search', query: ['q'] }, handle: (r) => ({ body: r.query }) },
      ])
      expect((await app.request('/api/search?q=a')).headers.get('x-cache')).toBe('MISS')
      expect((await app.request('/api/search?q=a')).headers.get('x-cache')).toBe('HIT')
      const tracked = await app.request('/api/search?q=a&page=2')
      expect(tracked.headers.get('x-cache')).toBe('BYPASS')
      expect(JSON.parse(tracked.body)).toEqual({ q: 'a', page: '2' })
      expect(await redisKeys('cache:search:*')).toHaveLength(1)
    })

    it("stops adding entries of a type at maxEntriesPerType with query: 'all', and keeps serving the ones it has", async () => {
      const { app } = await start(
        [
          {
            path: '/api/search',
            cache: { type: 'search', query: 'all' },
            handle: (r) => ({ body: r.query }),
          },
        ],
        { maxEntriesPerType: 20 },
      )
      expect((await app.request('/api/search?q=first')).headers.get('x-cache')).toBe('MISS')
      const responses = await many(500, (i) => app.request(`/api/search?cb=${i}-${randomUUID()}`))
      for (const response of responses) expect(response.status).toBe(200)
      expect((await redisKeys('cache:search:*')).length).toBeLessThanOrEqual(20)
      const over = await app.request('/api/search?cb=one-more')
      expect(over.headers.get('x-cache')).toBe('BYPASS')
      expect(over.headers.get('cache-status')).toContain('detail=entry-limit')
      expect(JSON.parse(over.body)).toEqual({ cb: 'one-more' })
      // Existing entries are not evicted to make room: they are still served.
      expect((await app.request('/api/search?q=first')).headers.get('x-cache')).toBe('HIT')
    })

    it("stops one user's new entries at maxEntriesPerUser, and other users still get theirs", async () => {
      const { app } = await start(
        [
          {
            path: '/api/me/search',
            cache: { type: 'user', scope: 'user', query: 'all' },
            handle: (r) => ({ body: { user: r.user, query: r.query } }),
          },
        ],
        { maxEntriesPerUser: 5 },
      )
      const alice = { headers: { authorization: 'Bearer alice' } }
      const responses = await many(100, (i) => app.request(`/api/me/search?cb=${i}`, alice))
      responses.forEach((response, i) => {
        expect(JSON.parse(response.body)).toEqual({ user: 'alice', query: { cb: String(i) } })
      })
      expect((await redisKeys('cache:user:u:alice:*')).length).toBeLessThanOrEqual(5)
      const over = await app.request('/api/me/search?cb=more', alice)
      expect(over.headers.get('cache-status')).toContain('detail=entry-limit')
      const bob = { headers: { authorization: 'Bearer bob' } }
      expect((await app.request('/api/me/search?cb=1', bob)).headers.get('x-cache')).toBe('MISS')
      expect((await app.request('/api/me/search?cb=1', bob)).headers.get('x-cache')).toBe('HIT')
    })

    it('keys on the host only for the hosts it is given: 500 random Host headers store nothing', async () => {
      const { app } = await start(
        [{ path: '/api/product', cache: { type: 'product' }, handle: () => ({ body: { sku: 1 } }) }],
        { hosts: ['shop.test'] },
      )
      const responses = await many(500, () =>
        app.request('/api/product', { headers: { host: `${randomUUID()}.test` } }),
      )
      for (const response of responses) {
        expect(response.status).toBe(200)
        expect(response.headers.get('x-cache')).toBe('BYPASS')
      }
      expect(responses[0]!.headers.get('cache-status')).toContain('detail=host')
      expect(await redisKeys('cache:product:*')).toHaveLength(0)
      const shop = { headers: { host: 'SHOP.test' } }
      expect((await app.request('/api/product', shop)).headers.get('x-cache')).toBe('MISS')
      expect((await app.request('/api/product', shop)).headers.get('x-cache')).toBe('HIT')
      expect(await redisKeys('cache:product:*')).toHaveLength(1)
    })

    it('bounds random Host headers by maxEntriesPerType when no hosts are listed', async () => {
      const { app } = await start(
        [{ path: '/api/product', cache: { type: 'product' }, handle: () => ({ body: { sku: 1 } }) }],
        { maxEntriesPerType: 30 },
      )
      await many(500, () => app.request('/api/product', { headers: { host: `${randomUUID()}.test` } }))
      expect((await redisKeys('cache:product:*')).length).toBeLessThanOrEqual(30)
    })

    it('sends a body over maxBodyBytes (default 1 MiB) untouched and stores nothing', async () => {
      const big = 'x'.repeat(1024 * 1024 + 1)
      const { app, calls } = await start([
        { path: '/api/export', cache: { type: 'analytics' }, handle: () => ({ body: big }) },
        {
          path: '/api/small',
          cache: { type: 'analytics' },
          handle: () => ({ body: 'x'.repeat(1024 * 1024) }),
        },
      ])
      for (let i = 0; i < 2; i++) {
        const response = await app.request('/api/export')
        expect(response.status).toBe(200)
        expect(response.body).toBe(big)
        expect(response.headers.get('x-cache')).toBe('BYPASS')
        expect(response.headers.get('cache-status')).toContain('detail=body-size')
      }
      expect(calls('/api/export')).toBe(2)
      expect(await redisKeys('cache:analytics:*')).toHaveLength(0)
      expect((await app.request('/api/small')).headers.get('x-cache')).toBe('MISS')
      expect((await app.request('/api/small')).headers.get('x-cache')).toBe('HIT')
    })

    it('never reveals the key by default, nor the principal on a user-scoped route even with exposeKey', async () => {
      for (const options of [{}, { exposeKey: true }]) {
        const { app: http } = await start(
          [
            { path: '/api/me', cache: { type: 'user', scope: 'user' }, handle: () => ({ body: 'mine' }) },
            { path: '/api/news', cache: { type: 'dashboard' }, handle: () => ({ body: 'news' }) },
          ],
          options,
        )
        for (const _ of [1, 2]) {
          const me = await http.request('/api/me', { headers: { authorization: 'Bearer alice-7' } })
          expect(me.body).toBe('mine')
          expect(me.headers.get('x-cache-key')).toBeNull()
          for (const [name, value] of me.headers) expect(`${name}: ${value}`).not.toContain('alice-7')
        }
        const news = await http.request('/api/news')
        expect(news.headers.get('x-cache-key') !== null).toBe(options.exposeKey === true)
        await http.close()
        app = undefined
        await cache.close()
      }
    })

    it('answers every request with 200 when Redis stops mid-test', async () => {
      const { app } = await start([
        { path: '/api/dashboard', cache: { type: 'dashboard' }, handle: () => ({ body: { ok: true } }) },
        {
          path: '/api/search',
          cache: { type: 'search', query: ['q'] },
          handle: (r) => ({ body: { q: r.query.q } }),
        },
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
