import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { ADMIN, type AdminHarness, plainClient, seed, startAdmin, TOKEN } from './setup.js'

let h: AdminHarness
let auditServer: TestRedis
let auditClient: ReturnType<typeof plainClient>

beforeAll(async () => {
  auditServer = await startRedis()
  auditClient = plainClient(auditServer.url)
  await new Promise((resolve) => auditClient.once('ready', resolve))
  h = await startAdmin({ audit: { redis: auditClient } })
  await seed(h.cache, 'users', 3)
})
afterAll(async () => {
  await h.close()
  auditClient.disconnect()
  await auditServer.stop()
})

function leaks(body: string): string[] {
  const found: string[] = []
  for (const secret of [
    TOKEN,
    '127.0.0.1',
    String(h.redis.port),
    String(auditServer.port),
    'users:',
    'redis://',
  ]) {
    if (body.includes(secret)) found.push(secret)
  }
  return found
}

describe('GET /health', () => {
  it('is public, healthy, and reveals no key names, addresses or credentials', async () => {
    const health = () => h.app.inject({ method: 'GET', url: '/api/cache/health' })
    // A loaded machine can answer the first PING slower than the 100 ms threshold (degraded).
    await expect.poll(async () => (await health()).json().status, { timeout: 10_000 }).toBe('healthy')
    const response = await health()
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({
      status: 'healthy',
      redis: { connected: true, circuit: 'closed' },
    })
    expect(response.json().redis.latency).toMatch(/^\d+ms$/)
    expect(response.headers['cache-control']).toBe('no-store')
    expect(leaks(response.body)).toEqual([])
  })

  it("lists the start-up advisor's advice: the test Redis is unbounded and never evicts", async () => {
    const advice = async () =>
      (await h.app.inject({ method: 'GET', url: '/api/cache/health' })).json().advice as Array<{
        code: string
        fix: string
      }>
    await expect
      .poll(async () => (await advice()).map((item) => item.code).sort(), { timeout: 5_000 })
      .toEqual(['redis-no-maxmemory', 'redis-noeviction'])
    expect((await advice()).every((item) => item.fix.length > 0)).toBe(true)
  })
})

/** Every command call the server has counted (INFO commandstats), less the INFO calls asking for it. */
async function commandCalls(client: ReturnType<typeof plainClient>): Promise<number> {
  const stats = await client.info('commandstats')
  let total = 0
  for (const match of stats.matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) {
    if (match[1] !== 'info') total += Number(match[2])
  }
  return total
}

describe('GET /health under a flood', () => {
  it('runs at most one round of Redis commands a second, however many requests come', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const before = await commandCalls(h.client)
    const started = performance.now()
    for (let wave = 0; wave < 5; wave++) {
      const responses = await Promise.all(
        Array.from({ length: 100 }, () => h.app.inject({ method: 'GET', url: '/api/cache/health' })),
      )
      // Answered, whatever the verdict: on a loaded machine one round's PING may miss its deadline, and
      // that 503 is then reused for the second like a 200 would be. The count below is the point.
      expect(responses.every((response) => [200, 503].includes(response.statusCode))).toBe(true)
    }
    const seconds = (performance.now() - started) / 1000
    const calls = (await commandCalls(h.client)) - before
    // One health round is a PING and an INFO; 500 requests unmemoised would be 1,000 commands.
    expect(calls).toBeLessThanOrEqual(2 * (Math.ceil(seconds) + 1))
  })
})

describe('audit sink down (RELIABILITY S9)', () => {
  it('fails destructive calls closed with 503 and deletes nothing; reads still answer', async () => {
    await auditServer.kill()
    for (const [method, url, payload] of [
      ['POST', '/clear', { pattern: 'users:*' }],
      ['POST', '/clear', { confirm: true }],
      ['DELETE', '/invalidate', { keys: ['users:0'] }],
      ['POST', '/invalidate/users', undefined],
      ['DELETE', '/keys/users:1', undefined],
      ['PATCH', '/keys/users:1', { ttl: 1000 }],
      ['POST', '/warmup', { force: true }],
    ] as const) {
      const response = await h.app.inject({ method, url: `/api/cache${url}`, headers: ADMIN, payload })
      expect(response.statusCode, `${method} ${url}`).toBe(503)
      expect(response.json()).toMatchObject({ success: false, error: 'E_AUDIT_UNAVAILABLE' })
    }
    const { count } = await h.cache.countByPattern('users:*')
    expect(count).toBe(3)
    expect(await h.cache.get('users:1')).toEqual({ namespace: 'users', i: 1 })
    const stats = await h.app.inject({ method: 'GET', url: '/api/cache/stats', headers: ADMIN })
    expect(stats.statusCode).toBe(200)
    const dryRun = await h.app.inject({
      method: 'POST',
      url: '/api/cache/clear',
      headers: ADMIN,
      payload: { pattern: 'users:*', dryRun: true },
    })
    expect(dryRun.json().stats.keysMatched).toBe(3)
    const denied = await h.app.inject({ method: 'POST', url: '/api/cache/clear', payload: { confirm: true } })
    expect(denied.statusCode).toBe(401)
  })
})

describe('Redis killed', () => {
  it('answers 503 unhealthy on /health without leaking where Redis was, and never a 500 elsewhere', async () => {
    await h.redis.kill()
    // The figures are reused for a second: the next read sees Redis gone.
    await expect
      .poll(async () => (await h.app.inject({ method: 'GET', url: '/api/cache/health' })).statusCode, {
        timeout: 5000,
      })
      .toBe(503)
    const response = await h.app.inject({ method: 'GET', url: '/api/cache/health' })
    const body = response.json()
    expect(body.status).toBe('unhealthy')
    expect(body.redis.connected).toBe(false)
    expect(['Connection refused', 'Connection timeout', 'Circuit open', 'Redis unavailable']).toContain(
      body.redis.error,
    )
    expect(leaks(response.body)).toEqual([])
    for (const url of ['/stats', '/keys', '/keys/users:1', '/audit']) {
      const answer = await h.app.inject({ method: 'GET', url: `/api/cache${url}`, headers: ADMIN })
      expect(answer.statusCode, url).not.toBe(500)
      expect(answer.statusCode, url).toBeLessThanOrEqual(503)
      expect(leaks(answer.body), url).toEqual([])
    }
  })
})
