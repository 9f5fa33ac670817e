import Fastify from 'fastify'
import { exportSPKI, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { adminPlugin } from '../../src/admin/index.js'
import {
  ADMIN,
  type AdminHarness,
  auditRecords,
  JWT_AUDIENCE,
  seed,
  signJwt,
  startAdmin,
  TOKEN,
} from './setup.js'

const DENIED_STREAM = 'cache:__audit:denied'

let h: AdminHarness
let ipCounter = 0
/** A fresh client address per attempt, so the brute-force guard does not mask the status under test. */
const nextIp = () => `10.9.${(++ipCounter >> 8) & 255}.${ipCounter & 255}`

beforeAll(async () => {
  // The history sampler writes its own points to Redis every interval; on a slow machine the matrix
  // outlasts the default 5 s and its writes would be counted as the attack's. An hour keeps them out.
  h = await startAdmin({ history: { intervalMs: 3_600_000 } })
})
afterAll(async () => h.close())
beforeEach(async () => {
  await h.client.flushdb()
  await seed(h.cache, 'users', 5, ['people'])
  await h.client.set('foreign:key', 'untouched')
})

const ENDPOINTS: Array<{ method: 'GET' | 'POST' | 'DELETE' | 'PATCH'; url: string; payload?: object }> = [
  { method: 'GET', url: '/stats' },
  { method: 'POST', url: '/clear', payload: { confirm: true } },
  { method: 'POST', url: '/clear', payload: { pattern: 'users:*' } },
  { method: 'POST', url: '/clear-all', payload: { confirm: true } },
  { method: 'POST', url: '/warmup', payload: { force: true } },
  { method: 'GET', url: '/warmup' },
  { method: 'DELETE', url: '/invalidate', payload: { keys: ['users:0'] } },
  { method: 'DELETE', url: '/invalidate', payload: { tags: ['people'] } },
  { method: 'POST', url: '/invalidate', payload: { patterns: ['users:*'] } },
  { method: 'POST', url: '/invalidate/users' },
  { method: 'POST', url: '/invalidate-pattern', payload: { pattern: 'users:*' } },
  { method: 'GET', url: '/keys' },
  { method: 'GET', url: '/keys?pattern=users:*' },
  { method: 'GET', url: '/keys/users:0' },
  { method: 'PATCH', url: '/keys/users:0', payload: { ttl: 1 } },
  { method: 'DELETE', url: '/keys/users:0' },
  { method: 'GET', url: '/audit' },
]

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

async function credentialVariants(): Promise<
  Array<{ name: string; headers: Record<string, string>; status: number }>
> {
  const { privateKey } = await generateKeyPair('RS256')
  const rs256 = await new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg: 'RS256' })
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey)
  const now = Math.floor(Date.now() / 1000)
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  return [
    { name: 'no credential', headers: {}, status: 401 },
    { name: 'wrong token', headers: bearer('wrong'), status: 401 },
    { name: 'wrong-length token', headers: bearer(`${TOKEN}x`), status: 401 },
    { name: 'correct prefix, wrong token', headers: bearer(`${TOKEN.slice(0, -1)}X`), status: 401 },
    { name: 'token without scheme', headers: { authorization: TOKEN }, status: 401 },
    {
      name: 'basic auth',
      headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
      status: 401,
    },
    { name: 'token in a cookie', headers: { cookie: `token=${TOKEN}` }, status: 401 },
    { name: 'token in another header', headers: { 'x-admin-token': TOKEN }, status: 401 },
    { name: 'non-admin JWT', headers: bearer(await signJwt({ role: 'user' })), status: 403 },
    { name: 'JWT without role', headers: bearer(await signJwt({})), status: 403 },
    {
      name: 'JWT with roles array lacking admin',
      headers: bearer(await signJwt({ role: ['user', 'editor'] })),
      status: 403,
    },
    {
      name: 'expired admin JWT',
      headers: bearer(await signJwt({ role: 'admin' }, { expiresIn: now - 60 })),
      status: 401,
    },
    {
      name: 'admin JWT, wrong secret',
      headers: bearer(await signJwt({ role: 'admin' }, { secret: 'x'.repeat(40) })),
      status: 401,
    },
    {
      name: 'admin JWT alg none',
      headers: bearer(
        `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ role: 'admin', exp: now + 300 })}.`,
      ),
      status: 401,
    },
    { name: 'admin JWT RS256 with an unknown key', headers: bearer(rs256), status: 401 },
    { name: 'X-Forwarded-For localhost', headers: { 'x-forwarded-for': '127.0.0.1' }, status: 401 },
    { name: 'Forwarded localhost', headers: { forwarded: 'for=127.0.0.1;host=localhost' }, status: 401 },
    {
      name: 'internal subrequest header',
      headers: { 'x-middleware-subrequest': 'middleware:middleware:middleware' },
      status: 401,
    },
    {
      name: 'method override',
      headers: { 'x-http-method-override': 'GET', 'x-method-override': 'GET' },
      status: 401,
    },
  ]
}

/**
 * Everything a denied call could have changed: every key and its value, but the audit stream and the
 * shared history (sampled on a timer, whatever the requests).
 */
async function snapshot() {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await h.client.scan(cursor, 'COUNT', 1000)
    cursor = next
    keys.push(
      ...batch.filter((key) => !key.startsWith('cache:__audit') && !key.startsWith('cache:__history')),
    )
  } while (cursor !== '0')
  keys.sort()
  const values = await Promise.all(
    keys.map(async (key) => [
      key,
      await h.client.type(key),
      (await h.client.dumpBuffer(key))?.toString('hex'),
    ]),
  )
  return JSON.stringify(values)
}

async function mutatingCommandCalls(): Promise<number> {
  const info = await h.client.info('commandstats')
  let total = 0
  for (const match of info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
    if (
      /^(set|del|unlink|expire|pexpire|evalsha|eval|zadd|zrem|incr|hset|flushdb|flushall|keys)$/.test(
        match[1]!,
      )
    ) {
      total += Number(match[2])
    }
  }
  return total
}

describe('auth matrix', () => {
  it('refuses every credential variant on every endpoint, with 0 side effects and 1 denied record each', async () => {
    const variants = await credentialVariants()
    const before = await snapshot()
    const auditBefore = (await auditRecords(h.client, DENIED_STREAM)).length
    const mutatingBefore = await mutatingCommandCalls()
    let attempts = 0
    for (const endpoint of ENDPOINTS) {
      for (const variant of variants) {
        const response = await h.app.inject({
          method: endpoint.method,
          url: `/api/cache${endpoint.url}`,
          headers: variant.headers,
          payload: endpoint.payload,
          remoteAddress: nextIp(),
        })
        attempts++
        expect(response.statusCode, `${variant.name} on ${endpoint.method} ${endpoint.url}`).toBe(
          variant.status,
        )
        expect(response.json().success).toBe(false)
      }
    }
    expect(attempts).toBeGreaterThanOrEqual(300)
    expect(await mutatingCommandCalls()).toBe(mutatingBefore)
    expect(await snapshot()).toBe(before)
    // Each attempt comes from a new address: one denied record each.
    const records = (await auditRecords(h.client, DENIED_STREAM)).slice(auditBefore)
    expect(records).toHaveLength(attempts)
    expect(records.every((record) => record.outcome === 'denied' && record.action === 'auth')).toBe(true)
    expect(JSON.stringify(records)).not.toContain(TOKEN)
  })

  it('guards HEAD, OPTIONS, query parameters, prototype payloads and path variants too', async () => {
    const before = await snapshot()
    const cases: Array<{ method: string; url: string; payload?: string; headers?: Record<string, string> }> =
      [
        { method: 'HEAD', url: '/api/cache/stats' },
        { method: 'HEAD', url: '/api/cache/keys' },
        {
          method: 'OPTIONS',
          url: '/api/cache/clear',
          headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
        },
        { method: 'GET', url: '/api/cache/stats?isAdmin=true&token=x' },
        { method: 'POST', url: '/api/cache/clear', payload: '{"__proto__":{"isAdmin":true},"confirm":true}' },
        { method: 'POST', url: '/api/cache/clear?isAdmin=true', payload: '{"confirm":true,"isAdmin":true}' },
        { method: 'POST', url: '/api/cache/CLEAR', payload: '{"confirm":true}' },
        { method: 'POST', url: '/api/cache/clear/', payload: '{"confirm":true}' },
        { method: 'POST', url: '/api/cache/clear;x', payload: '{"confirm":true}' },
        { method: 'POST', url: '/api/cache/clear%2f', payload: '{"confirm":true}' },
        { method: 'GET', url: '/api/cache/keys/..%2fstats' },
        { method: 'PUT', url: '/api/cache/clear', payload: '{"confirm":true}' },
      ]
    for (const c of cases) {
      const response = await h.app.inject({
        method: c.method as 'GET',
        url: c.url,
        payload: c.payload,
        headers: { 'content-type': 'application/json', ...c.headers },
        remoteAddress: nextIp(),
      })
      expect(response.statusCode, `${c.method} ${c.url}`).toBe(401)
    }
    // Outside the plugin's prefix nothing of ours answers: the app's own 404.
    for (const url of ['//api/cache/stats', '/api/cache%2fstats', '/API/cache/stats']) {
      const response = await h.app.inject({ method: 'GET', url, remoteAddress: nextIp() })
      expect(response.statusCode, url).toBe(404)
    }
    expect(await snapshot()).toBe(before)
  })

  it('a valid token does not turn path variants into the real route', async () => {
    for (const url of ['/api/cache/clear/', '/api/cache/CLEAR', '/api/cache/clear;x']) {
      const response = await h.app.inject({ method: 'POST', url, headers: ADMIN, payload: { confirm: true } })
      expect(response.statusCode, url).toBe(404)
    }
    expect(await h.cache.get('users:0')).toBeDefined()
  })

  it('accepts the static token and an admin JWT (string or array role)', async () => {
    const token = await h.app.inject({ method: 'GET', url: '/api/cache/stats', headers: ADMIN })
    expect(token.statusCode).toBe(200)
    for (const role of ['admin', ['viewer', 'admin']]) {
      const jwt = await signJwt({ role, sub: 'ops-bob' })
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/cache/invalidate/users',
        headers: { authorization: `Bearer ${jwt}` },
      })
      expect(response.statusCode).toBe(200)
    }
    const records = await auditRecords(h.client)
    expect(records.at(-1)).toMatchObject({ who: 'jwt:ops-bob', action: 'invalidate-type', outcome: 'ok' })
  })

  it('verifies RS256 JWTs against the public key and refuses HS256 tokens signed with it', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true })
    const pem = await exportSPKI(publicKey)
    const app = Fastify({ logger: false })
    await app.register(adminPlugin, {
      prefix: '/admin',
      cache: h.cache,
      jwt: { publicKey: pem, audience: JWT_AUDIENCE },
      redis: h.client,
    })
    await app.ready()
    try {
      const good = await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'RS256' })
        .setAudience(JWT_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
      const confused = await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setAudience(JWT_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(pem))
      const ok = await app.inject({
        method: 'GET',
        url: '/admin/stats',
        headers: { authorization: `Bearer ${good}` },
      })
      expect(ok.statusCode).toBe(200)
      const refused = await app.inject({
        method: 'GET',
        url: '/admin/stats',
        headers: { authorization: `Bearer ${confused}` },
      })
      expect(refused.statusCode).toBe(401)
    } finally {
      await app.close()
    }
  })
})

describe('brute force', () => {
  it('answers 429 after 10 failures a minute from one IP; another IP is unaffected', async () => {
    const attacker = '203.0.113.7'
    const statuses: number[] = []
    for (let i = 0; i < 15; i++) {
      const response = await h.app.inject({
        method: 'GET',
        url: '/api/cache/stats',
        headers: { authorization: `Bearer guess-${i}` },
        remoteAddress: attacker,
      })
      statuses.push(response.statusCode)
      if (response.statusCode === 429) expect(Number(response.headers['retry-after'])).toBeGreaterThan(0)
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401))
    expect(statuses.slice(10)).toEqual(Array(5).fill(429))
    // The correct credential is checked first: the admin is never locked out of an address.
    const admin = await h.app.inject({
      method: 'GET',
      url: '/api/cache/stats',
      headers: ADMIN,
      remoteAddress: attacker,
    })
    expect(admin.statusCode).toBe(200)
    const neighbour = await h.app.inject({
      method: 'GET',
      url: '/api/cache/stats',
      headers: { authorization: 'Bearer guess-neighbour' },
      remoteAddress: '198.51.100.2',
    })
    expect(neighbour.statusCode).toBe(401)
    // X-Forwarded-For is not trusted: it cannot move the attacker to a fresh address.
    const spoofed = await h.app.inject({
      method: 'GET',
      url: '/api/cache/stats',
      headers: { authorization: 'Bearer guess-spoofed', 'x-forwarded-for': '198.51.100.3' },
      remoteAddress: attacker,
    })
    expect(spoofed.statusCode).toBe(429)
    const denied = (await auditRecords(h.client, DENIED_STREAM)).filter((r) => r.ip === attacker)
    // One record for the first 401 and one for the first 429; the repeats are counted when the window closes.
    expect(denied.filter((r) => r.status === 401)).toMatchObject([{ count: 1 }])
    expect(denied.filter((r) => r.status === 429)).toMatchObject([{ count: 1 }])
  })
})
