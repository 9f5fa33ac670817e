import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../../cachet/test/helpers/redis-server.js'
import { ConfigError, loadConfig } from '../src/config.js'
import type { RunningServer } from '../src/start.js'
import { ADMIN_HEADERS, startTestServer } from './start-test-server.js'

const PASSWORD = 'p@ss:word/seed 004'
const DB = 3

describe('config: seed 004 §3.3 REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, REDIS_DB', () => {
  it('builds the Redis URL from them, with the seed defaults for what is unset', () => {
    expect(loadConfig({ REDIS_HOST: 'cache.internal' }).redisUrl).toBe('redis://cache.internal:6379/0')
    expect(
      loadConfig({ REDIS_HOST: '10.0.0.5', REDIS_PORT: '6380', REDIS_PASSWORD: 'a:b@c/d', REDIS_DB: '2' })
        .redisUrl,
    ).toBe('redis://:a%3Ab%40c%2Fd@10.0.0.5:6380/2')
    expect(loadConfig({ REDIS_PORT: '6390' }).redisUrl).toBe('redis://localhost:6390/0')
    expect(loadConfig({}).redisUrl).toBeUndefined()
  })

  it('names bad values, and refuses REDIS_URL together with them', () => {
    const message = (env: Record<string, string>) => {
      try {
        loadConfig(env)
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        return (error as Error).message
      }
      return 'accepted'
    }
    expect(message({ REDIS_PORT: '70000' })).toMatch(/REDIS_PORT: REDIS_PORT must be between 1 and 65535/)
    expect(message({ REDIS_DB: '-1' })).toMatch(/REDIS_DB: REDIS_DB must be between 0 and 1023/)
    expect(message({ REDIS_HOST: 'bad host/x' })).toMatch(/REDIS_HOST: REDIS_HOST must be a host name/)
    expect(message({ REDIS_URL: 'redis://a:6379', REDIS_HOST: 'b' })).toMatch(
      /REDIS_URL: set REDIS_URL or REDIS_HOST, not both/,
    )
  })
})

describe('config: CACHET_STARTUP_WARMUP_SKIP', () => {
  it('is a list of module names, empty by default', () => {
    expect([...loadConfig({}).startupWarmupSkip]).toEqual([])
    expect([...loadConfig({ CACHET_STARTUP_WARMUP_SKIP: 'dashboard,search' }).startupWarmupSkip]).toEqual([
      'dashboard',
      'search',
    ])
    expect(() => loadConfig({ CACHET_STARTUP_WARMUP_SKIP: 'dashboard search' })).toThrow(
      /CACHET_STARTUP_WARMUP_SKIP must be module names separated by commas/,
    )
  })
})

/*
 * One server on a redis-server that asks for a password, reached through REDIS_HOST/PORT/PASSWORD/DB,
 * with every start-up warmer on (seed 001's dashboard and search, seed 004's config, vehicles, products).
 */
let redis: TestRedis
let raw: Redis
let server: RunningServer

beforeAll(async () => {
  redis = await startRedis()
  const setup = new Redis(redis.url)
  await setup.config('SET', 'requirepass', PASSWORD)
  setup.disconnect()
  raw = new Redis({ port: redis.port, host: '127.0.0.1', password: PASSWORD, db: DB })
  server = await startTestServer({
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(redis.port),
    REDIS_PASSWORD: PASSWORD,
    REDIS_DB: String(DB),
    CACHET_STARTUP_WARMUP_SKIP: '',
    CACHET_DEMO_ROWS: '5000',
    CACHET_DEMO_ORDER_ITEMS: '4000',
  })
  // The start-up run is in the background; wait for it.
  await Promise.all(server.resources.warmers.jobs().map((job) => job.done))
}, 120_000)

afterAll(async () => {
  await server?.stop()
  raw?.disconnect()
  await redis?.stop()
})

const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
  server.app.inject({ method, url, headers: ADMIN_HEADERS, payload })

/** Remaining freshness of a key in seconds, from the admin API. */
async function freshSeconds(key: string): Promise<number> {
  const data = (await call('GET', `/api/cache/keys/${key}`)).json().data
  return (data.freshUntil - Date.now()) / 1000
}

describe('the demo server on REDIS_HOST/REDIS_PORT/REDIS_PASSWORD/REDIS_DB', () => {
  it('stores its entries in that database of that Redis', async () => {
    expect(server.resources.redis).toMatchObject({ kind: 'external' })
    expect(server.banner).not.toContain(PASSWORD)
    expect(await raw.exists('cache:config:main:all')).toBe(1)
    const db0 = new Redis({ port: redis.port, host: '127.0.0.1', password: PASSWORD, db: 0 })
    expect(await db0.exists('cache:config:main:all')).toBe(0)
    db0.disconnect()
  })
})

describe("seed 001's cache warming at start-up", () => {
  it('ran with the start-up warmers, so the dashboard and the popular searches are HITs', async () => {
    const [job] = server.resources.warmers.jobs()
    expect(job!.state()).toMatchObject({
      trigger: 'startup',
      status: 'completed',
      errors: 0,
      modules: ['config', 'vehicles', 'products', 'dashboard', 'search', 'user-profiles'],
    })
    const dashboard = await server.app.inject({ method: 'GET', url: '/api/dashboard' })
    expect(dashboard.headers['x-cache']).toBe('HIT')
    const search = await server.app.inject({ method: 'GET', url: '/api/search?q=error' })
    expect(search.headers['x-cache']).toBe('HIT')
  })
})

describe("seed 004's modules, warm-up request and TTL table", () => {
  it('answers the warm-up request {"modules": ["products", "users"]}', async () => {
    const response = await call('POST', '/api/cache/warmup', { modules: ['products', 'users'] })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({
      success: true,
      message: 'Cache warmup completed',
      stats: { modulesWarmed: ['products', 'users'], errors: 0 },
    })
    const forced = await call('POST', '/api/cache/warmup', { modules: ['products', 'users'], force: true })
    // Forced: the popular list and the details of the top 100 products are all written again.
    expect(forced.json().stats).toMatchObject({ modulesWarmed: ['products', 'users'], errors: 0 })
    expect(forced.json().details.results).toContainEqual(
      expect.objectContaining({ module: 'products', keys: 101, ok: true }),
    )
  })

  it('writes the §7 keys of products, vehicles, config and SEO', async () => {
    await call('POST', '/api/cache/warmup', { modules: ['seo'] })
    const value = async (key: string) => (await call('GET', `/api/cache/keys/${key}`)).json().data?.value
    const popular = await value('products:popular:list')
    expect(popular).toHaveLength(100)
    expect(popular[0].sold).toBeGreaterThanOrEqual(popular[99].sold)
    expect(await value(`products:${popular[0].id}:details`)).toMatchObject({ id: popular[0].id })
    const brands = await value('vehicles:brands:top20')
    expect(brands).toHaveLength(20)
    expect((await value(`vehicles:brand:${brands[0].id}:models`)).length).toBeGreaterThan(0)
    const config = await value('config:main:all')
    expect(Object.keys(config).sort()).toEqual(['cache-types', 'features', 'payments', 'retention'])
    expect(await value('config:features')).toEqual(config.features)
    expect(await value('config:environment:development')).toEqual({ payments: config.payments })
    expect(await value('seo:homepage:metatags')).toMatchObject({ slug: 'home' })
    expect(await value('seo:page:brakes:metatags')).toMatchObject({ title: 'Brake pads and discs' })
    expect(await value('seo:stats')).toEqual({ pages: 5 })
  })

  it('gives each key the TTL of the §4.3 table by prefix (5 min when no prefix matches)', async () => {
    // Jitter spreads freshness by ±10 %.
    const expectTtl = async (key: string, seconds: number) => {
      const left = await freshSeconds(key)
      expect(left, key).toBeGreaterThan(seconds * 0.9 - 30)
      expect(left, key).toBeLessThanOrEqual(seconds * 1.1)
    }
    await expectTtl('products:popular:list', 900)
    await expectTtl('vehicles:brands:top20', 3600)
    await expectTtl('config:main:all', 3600)
    await expectTtl('seo:stats', 3600)
    await expectTtl('seo:homepage:metatags', 300)
  })

  it("keeps the warm-up status in Redis under the seed's key, cache:warmup:status", async () => {
    const status = (await call('GET', '/api/cache/warmup')).json().data.status
    expect(status).toMatchObject({ status: 'completed', modules: ['seo'] })
    expect(await raw.exists('cache:cache:warmup:status')).toBe(1)
  })
})
