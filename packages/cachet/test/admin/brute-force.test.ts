import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addressKey, createFailureLimiter } from '../../src/admin/brute-force.js'
import { adminPlugin } from '../../src/admin/index.js'
import { ADMIN, type AdminHarness, JWT_AUDIENCE, JWT_SECRET, signJwt, startAdmin, TOKEN } from './setup.js'

let h: AdminHarness

beforeAll(async () => {
  h = await startAdmin()
})
afterAll(async () => h.close())

async function statusFrom(remoteAddress: string, headers: Record<string, string> = {}, method = 'GET') {
  const response = await h.app.inject({
    method: method as 'GET',
    url: '/api/cache/stats',
    headers,
    remoteAddress,
  })
  return response.statusCode
}

async function failTimes(remoteAddress: string, times: number): Promise<number[]> {
  const statuses: number[] = []
  for (let i = 0; i < times; i++) {
    statuses.push(await statusFrom(remoteAddress, { authorization: `Bearer wrong-guess-${i}` }))
  }
  return statuses
}

describe('brute-force limiter', () => {
  it('a correct token passes from an address blocked by wrong guesses', async () => {
    const shared = '203.0.113.20'
    const statuses = await failTimes(shared, 12)
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401))
    expect(statuses.slice(10)).toEqual([429, 429])
    expect(await statusFrom(shared, ADMIN)).toBe(200)
    const jwt = await signJwt({ role: 'admin' })
    expect(await statusFrom(shared, { authorization: `Bearer ${jwt}` })).toBe(200)
    // The block still holds for wrong credentials.
    expect(await statusFrom(shared, { authorization: 'Bearer still-wrong' })).toBe(429)
  })

  it('does not count requests without a credential nor CORS preflights', async () => {
    const browser = '203.0.113.21'
    for (let i = 0; i < 15; i++) {
      expect(await statusFrom(browser)).toBe(401)
      const preflight = await h.app.inject({
        method: 'OPTIONS',
        url: '/api/cache/clear',
        headers: { origin: 'https://ops.example', 'access-control-request-method': 'POST' },
        remoteAddress: browser,
      })
      expect(preflight.statusCode).toBe(401)
    }
    expect(await statusFrom(browser, { authorization: 'Bearer one-typo' })).toBe(401)
  })

  it('rate-limits valid JWTs without the admin role (403) like wrong credentials', async () => {
    const viewer = await signJwt({ role: 'viewer', sub: 'mallory' })
    const statuses: number[] = []
    for (let i = 0; i < 13; i++)
      statuses.push(await statusFrom('203.0.113.22', { authorization: `Bearer ${viewer}` }))
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(403))
    expect(statuses.slice(10)).toEqual([429, 429, 429])
  })

  it('groups IPv6 addresses by /64, so rotating the interface id does not evade the limit', async () => {
    const statuses: number[] = []
    for (let i = 1; i <= 12; i++) {
      statuses.push(
        await statusFrom(`2001:db8:aa:bb::${i.toString(16)}`, { authorization: `Bearer guess-${i}` }),
      )
    }
    expect(statuses.slice(10)).toEqual([429, 429])
    expect(await statusFrom('2001:db8:aa:bc::1', { authorization: 'Bearer other-net' })).toBe(401)
    expect(await statusFrom('2001:db8:aa:bb::ffff', ADMIN)).toBe(200)
  })

  it('with trustProxy, a spoofed X-Forwarded-For cannot lock the admin out of their address', async () => {
    const app = Fastify({ logger: false, trustProxy: true })
    await app.register(adminPlugin, {
      prefix: '/api/cache',
      cache: h.cache,
      tokens: [TOKEN],
      jwt: { secret: JWT_SECRET, audience: JWT_AUDIENCE },
      redis: h.client,
    })
    await app.ready()
    try {
      const victim = '198.51.100.77'
      for (let i = 0; i < 12; i++) {
        await app.inject({
          method: 'GET',
          url: '/api/cache/stats',
          headers: { authorization: `Bearer spoof-${i}`, 'x-forwarded-for': victim },
          remoteAddress: '10.0.0.1',
        })
      }
      const admin = await app.inject({
        method: 'GET',
        url: '/api/cache/stats',
        headers: { ...ADMIN, 'x-forwarded-for': victim },
        remoteAddress: '10.0.0.1',
      })
      expect(admin.statusCode).toBe(200)
    } finally {
      await app.close()
    }
  })
})

describe('failure table', () => {
  it('a spray of new addresses cannot evict a blocked address', () => {
    const limiter = createFailureLimiter(10, 60_000)
    for (let i = 0; i < 10; i++) limiter.fail('192.0.2.1')
    expect(limiter.blockedFor('192.0.2.1')).toBeGreaterThan(0)
    for (let i = 0; i < 20_000; i++) limiter.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
    expect(limiter.blockedFor('192.0.2.1')).toBeGreaterThan(0)
  })

  it('when every tracked address is blocked, a new failing address is limited too', () => {
    const limiter = createFailureLimiter(1, 60_000, Date.now, 100)
    for (let i = 0; i < 100; i++) limiter.fail(`10.0.0.${i}`)
    limiter.fail('192.0.2.50')
    expect(limiter.blockedFor('192.0.2.50')).toBeGreaterThan(0)
    expect(limiter.blockedFor('10.0.0.0')).toBeGreaterThan(0)
  })

  it('keys IPv4 as is, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1')
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1')
    expect(addressKey('2001:db8::1')).toBe(addressKey('2001:0db8:0:0:ffff:1:2:3'))
    expect(addressKey('2001:db8::1')).not.toBe(addressKey('2001:db8:0:1::1'))
    expect(addressKey('2001:DB8::1')).toBe(addressKey('2001:db8::2'))
    expect(addressKey('fe80::1%eth0')).toBe(addressKey('fe80::2'))
    expect(addressKey('not an address')).toBe('not an address')
  })
})
