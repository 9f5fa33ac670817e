import express, { type Express, type Request } from 'express'
import fc from 'fast-check'
import Fastify, { type FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCacheResponse } from '../../src/http/express.js'
import { fastifyCache } from '../../src/http/fastify.js'
import { type CacheApi, createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { fetchHarness, type Harness } from './harness.js'

let redis: TestRedis
let cache: CacheApi

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

async function freshCache(): Promise<CacheApi> {
  await cache?.close()
  cache = createCache({ redis: redis.url, logger: false })
  await cache.clear()
  return cache
}

const userOf = (request: object) => (request as { user?: string }).user

/** Serves an Express app on a loopback port. */
async function serveExpress(app: Express): Promise<Harness> {
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  return fetchHarness(`http://127.0.0.1:${port}`, async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
}

/** Every key in Redis, relative to the prefix. */
async function storedKeys(): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const page = await cache.keys({ cursor, limit: 500 })
    keys.push(...page.keys.map((k) => k.key))
    cursor = page.cursor
  } while (cursor !== '0')
  return keys
}

describe('poisoning with unkeyed inputs (RELIABILITY S2, S4)', () => {
  it('a clean request after attacker requests still gets the baseline body', async () => {
    await freshCache()
    const app = Fastify()
    await app.register(fastifyCache, { cache })
    // The handler reflects inputs an attacker controls: only keyed ones may change a shared entry.
    app.get('/api/page', { config: { cache: { type: 'dashboard' } } }, async (request, reply) => {
      const h = request.headers
      const marker = [
        h['x-forwarded-host'],
        h['x-original-url'],
        h['x-http-method-override'],
        h.cookie,
        h.authorization,
      ]
      if ((h['content-length'] ?? '0') !== '0') return reply.code(400).send('bad body')
      if (String(h['x-oversized'] ?? '').length > 1000) return reply.code(431).send('too large')
      return { host: request.host, reflected: marker.filter(Boolean).join('|') || 'clean' }
    })
    const attacks: Array<Record<string, string>> = [
      { 'x-forwarded-host': 'evil.test' },
      { 'x-original-url': '/admin' },
      { 'x-http-method-override': 'POST' },
      { cookie: 'sid=attacker' },
      { authorization: 'Bearer attacker' },
      { 'x-oversized': 'x'.repeat(5000) },
      { host: 'evil.test' },
      { 'content-type': 'text/plain', 'content-length': '3' },
    ]
    for (const headers of attacks) {
      const body = headers['content-length'] ? 'abc' : undefined
      await app.inject({ method: 'GET', url: '/api/page', headers, body })
    }
    const clean = await app.inject({ method: 'GET', url: '/api/page', headers: { host: 'example.test' } })
    expect(clean.statusCode).toBe(200)
    expect(clean.json()).toEqual({ host: 'example.test', reflected: 'clean' })
    await app.close()
  })
})

describe('deception and path confusion (RELIABILITY S3)', () => {
  it('never stores a private response under a shared key, whatever the path variant', async () => {
    await freshCache()
    const app = express()
    app.use((req, _res, next) => {
      ;(req as Request & { user?: string }).user = req.headers.authorization?.replace('Bearer ', '')
      next()
    })
    const cached = createCacheResponse({ cache, getUser: userOf })
    app.get('/api/me', cached({ type: 'user', scope: 'user' }), (req, res) => {
      res.json({ secret: `of ${(req as Request & { user?: string }).user}` })
    })
    app.get(
      '/static/:file',
      cached({ type: 'product' }),
      (req, res) => void res.send(`file ${req.params.file}`),
    )
    const http = await serveExpress(app)
    const variants = [
      '/api/me/x.css',
      '/api/me;x.css',
      '/api/me%23x.css',
      '/api/me%2fx.css',
      '/api/me/..%2fme',
      '//api/me',
      '/API/ME',
      '/api/me/',
      '/api/me.',
    ]
    for (const path of variants) {
      const response = await http.request(path, { headers: { authorization: 'Bearer alice' } })
      if (response.status === 200) expect(response.body).toContain('of alice')
    }
    await http.request('/static/app.css')
    const keys = await storedKeys()
    // Only the user-scoped entry of alice and the static file: no private body under a shared key.
    expect(keys.filter((key) => !key.startsWith('user:u:alice:') && !key.startsWith('product:'))).toEqual([])
    const bob = await http.request('/api/me/', { headers: { authorization: 'Bearer bob' } })
    expect(bob.body).toContain('of bob')
    await http.close()
  })
})

describe('Fastify user scope without a principal', () => {
  it('bypasses the cache instead of sharing an anonymous entry', async () => {
    await freshCache()
    const app = Fastify()
    await app.register(fastifyCache, { cache, getUser: (request: FastifyRequest) => userOf(request) })
    app.get('/api/me', { config: { cache: { type: 'user', scope: 'user' } } }, async () => ({
      anonymous: true,
    }))
    const response = await app.inject({ method: 'GET', url: '/api/me' })
    expect(response.headers['x-cache']).toBe('BYPASS')
    expect(response.headers['cache-status']).toContain('detail=no-principal')
    expect(await storedKeys()).toEqual([])
    await app.close()
    await cache.close()
  })

  it('rejects a route whose options are wrong when it is declared', async () => {
    const localOnly = createCache({ logger: false })
    const app = Fastify()
    await app.register(fastifyCache, { cache: localOnly })
    expect(() =>
      app.get('/x', { config: { cache: { type: 'user', scope: 'user' } } }, async () => 'x'),
    ).toThrow(/getUser/)
    await app.close()
    await localOnly.close()
  })
})

describe('query canonical form with nested parsing', () => {
  it("does not serve ?filter[status]=open for ?filter[0][0]=status&filter[0][1]=open (Express 'extended')", async () => {
    await freshCache()
    const app = express()
    app.set('query parser', 'extended')
    const cached = createCacheResponse({ cache })
    app.get('/api/tickets', cached({ type: 'search', query: 'all' }), (req, res) => void res.json(req.query))
    const http = await serveExpress(app)
    const object = await http.request('/api/tickets?filter[status]=open')
    expect(JSON.parse(object.body)).toEqual({ filter: { status: 'open' } })
    const pairs = await http.request('/api/tickets?filter[0][0]=status&filter[0][1]=open')
    expect(JSON.parse(pairs.body)).toEqual({ filter: [['status', 'open']] })
    expect(pairs.headers.get('x-cache')).toBe('MISS')
    expect(await storedKeys()).toHaveLength(2)
    await http.close()
  })
})

describe('custom key built from request input', () => {
  it('answers a request whose input makes an invalid key or tag without caching it, never with a 500', async () => {
    await freshCache()
    const app = Fastify()
    await app.register(fastifyCache, { cache })
    const key = (request: FastifyRequest) => `item:${(request.query as { id?: string }).id}`
    app.get('/api/item', { config: { cache: { type: 'product', query: ['id'], key } } }, async (request) => ({
      id: (request.query as { id?: string }).id,
    }))
    const tags = (request: FastifyRequest) => [`item:${(request.query as { id?: string }).id}`]
    app.get(
      '/api/tagged',
      { config: { cache: { type: 'product', query: ['id'], tags } } },
      async (request) => ({
        id: (request.query as { id?: string }).id,
      }),
    )
    for (const id of ['a b', 'x'.repeat(600), 'é', 'a\nb']) {
      const response = await app.inject({ method: 'GET', url: '/api/item', query: { id } })
      expect(response.statusCode).toBe(200)
      expect(response.json()).toEqual({ id })
      expect(response.headers['x-cache']).toBe('BYPASS')
      expect(response.headers['cache-status']).toContain('detail=key')
    }
    expect(await storedKeys()).toEqual([])
    // Tags made of request input the tag rules refuse: answered the same way.
    const huge = 'x'.repeat(5000)
    const tagged = await app.inject({ method: 'GET', url: '/api/tagged', query: { id: huge } })
    expect(tagged.statusCode).toBe(200)
    expect(tagged.json()).toEqual({ id: huge })
    expect(tagged.headers['cache-status']).toContain('detail=key')
    const fine = await app.inject({ method: 'GET', url: '/api/item?id=42' })
    expect(fine.headers['x-cache']).toBe('MISS')
    expect(await storedKeys()).toEqual(['product:k:item:42'])
    await app.close()
  })
})

describe('fuzz: hostile query strings', () => {
  it('answers every request 200 with what the handler says for that very request, cached or not', async () => {
    await freshCache()
    const app = express()
    app.set('query parser', 'extended')
    const cached = createCacheResponse({ cache })
    app.get('/cached', cached({ type: 'search', query: 'all' }), (req, res) => void res.json(req.query))
    app.get('/direct', (req, res) => void res.json(req.query))
    const http = await serveExpress(app)
    const name = fc.constantFrom(
      'a',
      'a[]',
      'a[0]',
      'a[1]',
      'a[b]',
      'a[0][0]',
      'a[0][1]',
      'b',
      '__proto__',
      'toJSON',
    )
    const value = fc.constantFrom('', '1', 'b', 'open', 'x%20y', '%', '%zz', '[]', 'a=b', '%26')
    const pair = fc.tuple(name, value).map(([n, v]) => `${n}=${v}`)
    await fc.assert(
      fc.asyncProperty(fc.array(pair, { minLength: 1, maxLength: 4 }), async (pairs) => {
        const query = pairs.join('&')
        const [fromCache, direct] = await Promise.all([
          http.request(`/cached?${query}`),
          http.request(`/direct?${query}`),
        ])
        expect(fromCache.status).toBe(direct.status)
        expect(fromCache.status).toBeLessThan(500)
        if (direct.status === 200) expect(JSON.parse(fromCache.body)).toEqual(JSON.parse(direct.body))
      }),
      { numRuns: 300 },
    )
    await http.close()
  })
})
