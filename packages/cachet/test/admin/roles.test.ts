import Fastify from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { adminPlugin } from '../../src/admin/index.js'
import { ADMIN, type AdminHarness, auditRecords, seed, signJwt, startAdmin } from './setup.js'

const READ_TOKEN = 'test-read-only-token-0123456789'
const READ = { authorization: `Bearer ${READ_TOKEN}` }
const DENIED_STREAM = 'cache:__audit:denied'

type Method = 'GET' | 'POST' | 'DELETE' | 'PATCH'

/**
 * Every route of the admin plugin, who may call it, and a request that would succeed for an admin.
 * A route the plugin registers but this table does not name fails the first test.
 */
const ROUTES: Array<{ route: string; access: 'public' | 'read' | 'admin'; url: string; payload?: object }> = [
  { route: 'GET /health', access: 'public', url: '/health' },
  { route: 'GET /stats', access: 'read', url: '/stats' },
  { route: 'GET /history', access: 'read', url: '/history' },
  { route: 'GET /openapi.json', access: 'read', url: '/openapi.json' },
  { route: 'GET /keys', access: 'read', url: '/keys?pattern=users:*' },
  { route: 'GET /keys/:key', access: 'read', url: '/keys/users:0' },
  { route: 'GET /warmup', access: 'read', url: '/warmup' },
  { route: 'GET /warmup/:jobId', access: 'read', url: '/warmup/00000000-0000-0000-0000-000000000000' },
  {
    route: 'GET /warmup/:jobId/events',
    access: 'read',
    url: '/warmup/00000000-0000-0000-0000-000000000000/events',
  },
  { route: 'GET /audit', access: 'read', url: '/audit' },
  { route: 'GET /write-behind', access: 'read', url: '/write-behind' },
  { route: 'POST /clear', access: 'admin', url: '/clear', payload: { confirm: true } },
  { route: 'POST /clear-all', access: 'admin', url: '/clear-all', payload: { confirm: true } },
  { route: 'DELETE /invalidate', access: 'admin', url: '/invalidate', payload: { keys: ['users:0'] } },
  { route: 'POST /invalidate', access: 'admin', url: '/invalidate', payload: { tags: ['people'] } },
  { route: 'POST /invalidate/:type', access: 'admin', url: '/invalidate/users', payload: {} },
  {
    route: 'POST /invalidate-pattern',
    access: 'admin',
    url: '/invalidate-pattern',
    payload: { pattern: 'users:*' },
  },
  { route: 'PATCH /keys/:key', access: 'admin', url: '/keys/users:0', payload: { ttl: 1 } },
  { route: 'DELETE /keys/:key', access: 'admin', url: '/keys/users:0' },
  { route: 'POST /warmup', access: 'admin', url: '/warmup', payload: { force: true } },
]

const methodOf = (route: string) => route.split(' ', 1)[0] as Method

let h: AdminHarness
let readJwt: string
let operatorJwt: string
let noRoleJwt: string

beforeAll(async () => {
  h = await startAdmin({ readTokens: [READ_TOKEN] })
  readJwt = await signJwt({ sub: 'olivia', role: 'operator' })
  operatorJwt = await signJwt({ sub: 'oscar', role: ['viewer', 'operator'] })
  noRoleJwt = await signJwt({ sub: 'mallory', role: 'viewer' })
})
afterAll(async () => h.close())
beforeEach(async () => {
  await h.client.flushdb()
  await seed(h.cache, 'users', 5, ['people'])
})

const call = (method: Method, url: string, headers: Record<string, string>, payload?: object) =>
  h.app.inject({ method, url: `/api/cache${url}`, headers, payload })

describe('roles on every admin route', () => {
  it('every registered route has a row in the role table (GET routes cover their HEAD)', () => {
    const registered = new Set(
      h.routes.map((route) => route.replace(/^HEAD /, 'GET ').replace('/api/cache', '')),
    )
    expect([...registered].sort()).toEqual(ROUTES.map((row) => row.route).sort())
  })

  it.each(ROUTES)('$route: $access', async ({ route, access, url, payload }) => {
    const method = methodOf(route)
    const anonymous = await call(method, url, {}, payload)
    expect(anonymous.statusCode, 'anonymous').toBe(access === 'public' ? 200 : 401)

    for (const [name, headers] of [
      ['read token', READ],
      ['operator JWT', { authorization: `Bearer ${readJwt}` }],
      ['operator among roles', { authorization: `Bearer ${operatorJwt}` }],
    ] as const) {
      const response = await call(method, url, headers, payload)
      if (access === 'admin') {
        expect(response.statusCode, name).toBe(403)
        expect(response.json().error, name).toBe('E_FORBIDDEN')
      } else {
        expect([401, 403, 429], `${name}: ${response.body}`).not.toContain(response.statusCode)
      }
    }
    if (access === 'admin') {
      // Refused before anything ran: the seeded keys are all there.
      expect(await h.cache.countByPattern('users:*')).toMatchObject({ count: 5 })
      expect(await h.client.get('cache:users:0')).not.toBeNull()
    }

    const admin = await call(method, url, ADMIN, payload)
    expect([401, 403, 429], `admin: ${admin.body}`).not.toContain(admin.statusCode)
  })

  it('a JWT with neither the admin nor the operator role is refused everywhere but /health', async () => {
    // It counts as a failed credential, so each call comes from its own address (no 429 masks the 403).
    const guarded = ROUTES.filter((row) => row.access !== 'public')
    for (const [i, { route, url, payload }] of guarded.entries()) {
      const response = await h.app.inject({
        method: methodOf(route),
        url: `/api/cache${url}`,
        headers: { authorization: `Bearer ${noRoleJwt}` },
        payload,
        remoteAddress: `10.8.0.${i + 1}`,
      })
      expect(response.statusCode, route).toBe(403)
    }
  })
})

describe('what a read-only caller sees', () => {
  it('stats, keys and key metadata, never a value', async () => {
    expect((await call('GET', '/stats', READ)).statusCode).toBe(200)
    const keys = (await call('GET', '/keys?pattern=users:*', READ)).json()
    expect(keys.data.keys.map((k: { key: string }) => k.key).sort()).toEqual(
      ['users:0', 'users:1', 'users:2', 'users:3', 'users:4'].sort(),
    )
    const metadata = await call('GET', '/keys/users:3', READ)
    expect(metadata.statusCode).toBe(200)
    const data = metadata.json().data
    expect(data).toMatchObject({ key: 'users:3', state: 'fresh', tags: ['people'], valueHidden: true })
    expect(data).not.toHaveProperty('value')
    expect(data).not.toHaveProperty('preview')
    expect(metadata.body).not.toContain('"namespace"')

    const full = (await call('GET', '/keys/users:3', ADMIN)).json().data
    expect(full.value).toEqual({ namespace: 'users', i: 3 })
  })

  it('metadata reads are audited as such, value reads as reads', async () => {
    await call('GET', '/keys/users:1', READ)
    await call('GET', '/keys/users:1', ADMIN)
    const actions = (await auditRecords(h.client)).map((record) => [record.action, record.who])
    expect(actions).toEqual([
      ['metadata', expect.stringMatching(/^token:[0-9a-f]{8}$/)],
      ['read', expect.stringMatching(/^token:[0-9a-f]{8}$/)],
    ])
    expect(actions[0]![1]).not.toBe(actions[1]![1])
  })
})

describe('refusals of a read-only caller', () => {
  it('are recorded as denied, with their count, and do not trip the failure limiter', async () => {
    const local = await startAdmin({ readTokens: [READ_TOKEN], limits: { authFailures: 2 } })
    try {
      await seed(local.cache, 'users', 3)
      const admins = ROUTES.filter((row) => row.access === 'admin')
      for (const { route, url, payload } of admins) {
        const response = await local.app.inject({
          method: methodOf(route),
          url: `/api/cache${url}`,
          headers: READ,
          payload,
        })
        expect(response.statusCode, route).toBe(403)
      }
      // The same caller still reads: a valid credential is not a guess.
      expect((await local.app.inject({ url: '/api/cache/stats', headers: READ })).statusCode).toBe(200)
      await local.app.close()
      const denied = await auditRecords(local.client, DENIED_STREAM)
      expect(denied.every((record) => record.outcome === 'denied' && record.status === 403)).toBe(true)
      expect(denied[0]).toMatchObject({ who: expect.stringMatching(/^token:/), action: 'auth' })
      expect(String(denied[0]!.reason)).toContain('read role')
      expect(denied.reduce((sum, record) => sum + Number(record.count), 0)).toBe(admins.length)
      expect(await local.cache.countByPattern('users:*')).toMatchObject({ count: 3 })
    } finally {
      await local.close()
    }
  })
})

describe('registration', () => {
  it('refuses a read-only token shorter than 16 characters', async () => {
    const app = Fastify({ logger: false })
    await expect(
      app.register(adminPlugin, { prefix: '/api/cache', cache: h.cache, readTokens: ['short'] }).ready(),
    ).rejects.toThrow(/readTokens\[0\]: an admin token must be at least 16 characters/)
    await app.close()
  })

  it('refuses a route that does not declare who may call it', async () => {
    const stray = Fastify({ logger: false })
    stray.register(async (scope) => {
      await adminPlugin(scope, { cache: h.cache, tokens: ['x'.repeat(20)] })
      scope.get('/undeclared', async () => 'open?')
    })
    await expect(stray.ready()).rejects.toThrow(/admin route GET \/undeclared declares no access/)
    await stray.close()
  })
})
