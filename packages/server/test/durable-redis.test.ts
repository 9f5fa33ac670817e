import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../../cachet/test/helpers/redis-server.js'
import type { RunningServer } from '../src/start.js'
import { ADMIN_HEADERS, startTestServer, userHeaders } from './start-test-server.js'

const METRICS_TOKEN = 'test-metrics-token-0123456789'
// Small tables: the data is not under test here.
const SMALL = { CACHET_DEMO_ROWS: '1000', CACHET_DEMO_ORDER_ITEMS: '1000' }

const infoField = (info: string, field: string) => Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1])

describe('the demo keeps its audit log and event streams where cache eviction cannot reach them', () => {
  let server: RunningServer
  let cacheRedis: Redis
  let durableRedis: Redis

  beforeAll(async () => {
    // Both redis-servers embedded; the cache's one small, so a few MB of cache writes make it evict.
    server = await startTestServer({
      ...SMALL,
      CACHET_REDIS_MAXMEMORY: '8mb',
      CACHET_METRICS_TOKEN: METRICS_TOKEN,
    })
    const { redis, durableRedis: durable } = server.resources
    if (redis.kind !== 'embedded' || durable.kind !== 'embedded')
      throw new Error('expected two embedded Redis')
    cacheRedis = new Redis(redis.url)
    durableRedis = new Redis(durable.url)
  }, 60_000)

  afterAll(async () => {
    cacheRedis?.disconnect()
    durableRedis?.disconnect()
    await server?.stop()
  })

  it('spawns a second redis-server: noeviction and an append-only file, named in the banner', async () => {
    expect(await durableRedis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction'])
    expect(await durableRedis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes'])
    expect(await cacheRedis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru'])
    expect(await cacheRedis.config('GET', 'maxmemory')).toEqual(['maxmemory', String(8 * 1024 * 1024)])
    expect(server.banner).toMatch(
      /Durable +audit log and event streams in an embedded redis-server .*noeviction/,
    )
    expect(server.banner).toMatch(/maxmemory 8mb, allkeys-lru/)
  })

  it('audit records and stream entries survive filling the cache Redis far past its maxmemory', async () => {
    const cleared = await server.app.inject({
      method: 'POST',
      url: '/api/cache/invalidate/search',
      headers: ADMIN_HEADERS,
    })
    expect(cleared.statusCode).toBe(200)
    const updated = await server.app.inject({
      method: 'PUT',
      url: '/api/users/12',
      payload: { fullName: 'Mary Jackson' },
      headers: await userHeaders(server, 12),
    })
    expect(updated.statusCode).toBe(200)
    const eventId: string = updated.json().event.id
    // The consumer reads the stream from the durable Redis and updates the entity hash in the cache's.
    const users = server.resources.userSync!.users
    const deadline = Date.now() + 10_000
    while ((await users.get('12'))?.fullName !== 'Mary Jackson' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(await cacheRedis.hget('cache:__entity:user:profile:12', 'fullName')).toBe('Mary Jackson')

    // 24 MB of values that compress poorly, into an 8 MB cache: most of it is evicted.
    const cache = server.resources.cache
    for (let i = 0; i < 60; i++) {
      await cache.setMany(
        Array.from({ length: 50 }, (_, j) => ({
          key: `filler:${i}:${j}`,
          value: randomBytes(6_000).toString('base64'),
        })),
      )
    }
    expect(infoField(await cacheRedis.info('stats'), 'evicted_keys')).toBeGreaterThan(1_000)

    const audit = await durableRedis.xrange('cache:__audit', '-', '+')
    expect(audit.map(([, fields]) => fields.join(' ')).join('\n')).toMatch(/invalidate/)
    expect(await durableRedis.xrange('events:users', eventId, eventId)).toHaveLength(1)
    // Nothing of the kind is in the evicting Redis.
    expect(await cacheRedis.exists('cache:__audit', 'events:users')).toBe(0)
  })

  it('/metrics takes the metrics token (and no longer the admin token) once CACHET_METRICS_TOKEN is set', async () => {
    const scrape = (headers: Record<string, string>) =>
      server.app.inject({ method: 'GET', url: '/metrics', headers })
    expect((await scrape({})).statusCode).toBe(401)
    expect((await scrape(ADMIN_HEADERS)).statusCode).toBe(401)
    const ok = await scrape({ authorization: `Bearer ${METRICS_TOKEN}` })
    expect(ok.statusCode).toBe(200)
    expect(ok.body).toMatch(/^cachet_/m)
  })
})

describe('with REDIS_URL and no CACHET_DURABLE_REDIS_URL', () => {
  let redis: TestRedis
  let server: RunningServer

  beforeAll(async () => {
    redis = await startRedis()
    server = await startTestServer({ ...SMALL, REDIS_URL: redis.url })
  }, 60_000)

  afterAll(async () => {
    await server?.stop()
    await redis?.stop()
  })

  it('says that audit and streams share the evicting Redis: in the banner and in /health', async () => {
    expect(server.resources.durableRedis.kind).toBe('shared')
    expect(server.banner).toMatch(/Durable +WARNING: audit log and event streams share the cache's Redis/)
    const health = await server.app.inject({ method: 'GET', url: '/api/cache/health' })
    expect(health.statusCode).toBe(200)
    expect(health.json().reasons).toContain(
      'the audit log and the event streams share the evicting cache Redis: set CACHET_DURABLE_REDIS_URL',
    )
  })
})
