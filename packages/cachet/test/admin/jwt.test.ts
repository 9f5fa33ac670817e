import Fastify from 'fastify'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AdminOptions, adminPlugin } from '../../src/admin/index.js'
import { type AdminHarness, JWT_AUDIENCE, JWT_SECRET, signJwt, startAdmin, TOKEN } from './setup.js'

let h: AdminHarness
let hosts = 0

beforeAll(async () => {
  h = await startAdmin()
})
afterAll(async () => h.close())

const key = new TextEncoder().encode(JWT_SECRET)
const now = () => Math.floor(Date.now() / 1000)

async function status(jwt: string, app = h.app): Promise<number> {
  const response = await app.inject({
    method: 'GET',
    url: '/api/cache/stats',
    headers: { authorization: `Bearer ${jwt}` },
    remoteAddress: `10.30.0.${++hosts & 255}`,
  })
  return response.statusCode
}

async function register(options: Partial<AdminOptions>) {
  const app = Fastify({ logger: false })
  await app.register(adminPlugin, { prefix: '/api/cache', cache: h.cache, redis: h.client, ...options })
  return app
}

describe('admin JWT lifetime', () => {
  it('accepts an admin JWT with exp, a recent iat and the audience', async () => {
    expect(await status(await signJwt({ role: 'admin' }))).toBe(200)
  })

  it('refuses a JWT without exp', async () => {
    const jwt = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt()
      .sign(key)
    expect(await status(jwt)).toBe(401)
  })

  it('refuses a JWT older than the maximum token age (1 h), even when exp is far away', async () => {
    const old = await signJwt({ role: 'admin' }, { issuedAt: now() - 2 * 3600, expiresIn: now() + 3600 })
    expect(await status(old)).toBe(401)
    const noIat = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(JWT_AUDIENCE)
      .setExpirationTime('1y')
      .sign(key)
    expect(await status(noIat)).toBe(401)
  })

  it('refuses a JWT for another audience', async () => {
    const other = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('some-other-service')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key)
    expect(await status(other)).toBe(401)
  })

  it('honours jwt.maxTokenAgeMs', async () => {
    const app = await register({
      jwt: { secret: JWT_SECRET, audience: JWT_AUDIENCE, maxTokenAgeMs: 600_000 },
    })
    try {
      expect(await status(await signJwt({ role: 'admin' }, { issuedAt: now() - 300 }), app)).toBe(200)
      expect(await status(await signJwt({ role: 'admin' }, { issuedAt: now() - 1200 }), app)).toBe(401)
    } finally {
      await app.close()
    }
  })
})

describe('registration', () => {
  it('refuses JWT settings without an audience, with a clear error', async () => {
    const app = Fastify({ logger: false })
    await expect(
      app.register(adminPlugin, {
        prefix: '/x',
        cache: h.cache,
        redis: h.client,
        jwt: { secret: JWT_SECRET },
      }),
    ).rejects.toThrow(/jwt\.audience/)
    await app.close()
  })

  it('refuses static tokens shorter than 16 characters, with a clear error', async () => {
    const app = Fastify({ logger: false })
    await expect(
      app.register(adminPlugin, {
        prefix: '/x',
        cache: h.cache,
        redis: h.client,
        tokens: [TOKEN, 'short-token'],
      }),
    ).rejects.toThrow(/at least 16 characters/)
    await app.close()
  })
})
