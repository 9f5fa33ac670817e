import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HistoryPoint } from '../../src/admin/history.js'
import type { InstanceSeries } from '../../src/admin/history-share.js'
import { adminPlugin } from '../../src/admin/index.js'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { ADMIN, plainClient, TOKEN } from './setup.js'

const INTERVAL_MS = 200
const WINDOW_MS = 1000

/** One instance of a two-instance deployment: its own engine, Redis client and admin app. */
interface Instance {
  app: FastifyInstance
  cache: CacheApi
  client: Redis
  id: string
}

async function startInstance(redisUrl: string, share = true): Promise<Instance> {
  const cache = createCache({ redis: redisUrl, prefix: 'cache', logger: false })
  const client = plainClient(redisUrl)
  const app = Fastify({ logger: false })
  await app.register(adminPlugin, {
    prefix: '/api/cache',
    cache,
    tokens: [TOKEN],
    ...(share ? { redis: client } : {}),
    history: { intervalMs: INTERVAL_MS, windowMs: WINDOW_MS },
  })
  await app.ready()
  const health = await app.inject({ url: '/api/cache/health' })
  return { app, cache, client, id: health.json().instance }
}

async function stopInstance(instance: Instance): Promise<void> {
  await instance.app.close()
  await instance.cache.close()
  instance.client.disconnect()
}

async function historyOf(instance: Instance, query = '') {
  const response = await instance.app.inject({ url: `/api/cache/history${query}`, headers: ADMIN })
  return { status: response.statusCode, header: response.headers['x-cachet-instance'], body: response.json() }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const hits = (points: HistoryPoint[]) => points.reduce((sum, point) => sum + point.opsPerSecond.hit, 0)

describe('two instances on one Redis: each answer names its instance, each history is visible from the other', () => {
  let redis: TestRedis
  let a: Instance
  let b: Instance

  beforeAll(async () => {
    redis = await startRedis()
    a = await startInstance(redis.url)
    b = await startInstance(redis.url)
  })
  afterAll(async () => {
    await stopInstance(a)
    await stopInstance(b)
    await redis.stop()
  })

  it('names the answering instance in a header on every answer and in GET /health', async () => {
    expect(a.id).toMatch(/^[0-9a-f]{8}$/)
    expect(b.id).toMatch(/^[0-9a-f]{8}$/)
    expect(a.id).not.toBe(b.id)
    for (const [url, headers, status] of [
      ['/api/cache/health', {}, 200],
      ['/api/cache/history', ADMIN, 200],
      ['/api/cache/stats', {}, 401],
      ['/api/cache/no-such-route', ADMIN, 404],
    ] as const) {
      const response = await b.app.inject({ url, headers })
      expect(response.statusCode, url).toBe(status)
      expect(response.headers['x-cachet-instance'], url).toBe(b.id)
    }
    expect((await historyOf(a)).body.data).toMatchObject({ instance: a.id, shared: true })
  })

  it("shows instance B's history through instance A (?instance=all and ?instance=<id>)", async () => {
    // Traffic on B only: 20 misses, then 60 hits.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 20; i++) await b.cache.getOrSet(`products:${i}`, async () => ({ i }))
    }
    await sleep(3 * INTERVAL_MS)
    const all = await historyOf(a, '?instance=all')
    expect(all.status).toBe(200)
    expect(all.header).toBe(a.id)
    const series = all.body.data.series as InstanceSeries[]
    expect(series.map((s) => s.instance)).toEqual([a.id, b.id])
    expect(series.map((s) => s.self)).toEqual([true, false])
    expect(hits(series[1]!.points)).toBeGreaterThan(0)
    expect(hits(series[0]!.points)).toBe(0)
    expect(all.body.data.points).toEqual(series[0]!.points)

    const one = await historyOf(a, `?instance=${b.id}`)
    expect(one.status).toBe(200)
    expect(one.body.data).toMatchObject({ instance: a.id, of: b.id })
    expect(hits(one.body.data.points)).toBeGreaterThan(0)
    // B's own view of itself holds the same points (A reads what B published).
    const own = (await historyOf(b)).body.data.points as HistoryPoint[]
    const published = one.body.data.points as HistoryPoint[]
    // B may have sampled again between the two reads and dropped its oldest point: compare the overlap.
    const overlap = published.filter((point) => point.at >= own[0]!.at)
    expect(overlap.length).toBeGreaterThan(0)
    expect(own).toEqual(expect.arrayContaining(overlap))
  })

  it('keeps the shared history bounded and expiring, under the cache prefix', async () => {
    await sleep(WINDOW_MS + 2 * INTERVAL_MS)
    const list = `cache:__history:${b.id}`
    expect(await a.client.llen(list)).toBeLessThanOrEqual(WINDOW_MS / INTERVAL_MS)
    const ttl = await a.client.pttl(list)
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(3 * INTERVAL_MS + 2000)
    expect(await a.client.pttl('cache:__history')).toBeGreaterThan(0)
    // clear() never touches cachet's own keys: the history survives a cleared cache.
    await a.cache.clear()
    expect(await a.client.exists(list)).toBe(1)
  })

  it("shows instance B's history in `cachet top --instance` pointed at instance A", async () => {
    const url = await a.app.listen({ port: 0, host: '127.0.0.1' })
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
    const env = { ...process.env, CACHET_URL: url, CACHET_ADMIN_TOKEN: TOKEN }
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', main, 'top', '-n', '1', '--instance', b.id],
      { env },
    )
    expect(stdout).toMatch(
      new RegExp(`^cachet top · instance ${b.id} \\(via ${a.id}\\) · a point every 0.2 s`),
    )
    expect(stdout).toMatch(/^hit rate:/m)
  }, 20_000)

  it('refuses a malformed instance (400) and answers 404 for one that is not live', async () => {
    expect((await historyOf(a, '?instance=../../x')).status).toBe(400)
    expect((await historyOf(a, '?instance=all&x=1')).status).toBe(400)
    const missing = await historyOf(a, '?instance=00000000')
    expect(missing.status).toBe(404)
    expect(missing.body.error).toBe('E_NOT_FOUND')
  })

  it('drops an instance that closes at once, and one that dies after its TTL', async () => {
    const c = await startInstance(redis.url)
    await sleep(2 * INTERVAL_MS)
    const listed = async () =>
      ((await historyOf(a, '?instance=all')).body.data.series as InstanceSeries[]).map((s) => s.instance)
    expect(await listed()).toContain(c.id)
    await stopInstance(c)
    expect(await listed()).not.toContain(c.id)
    expect(await a.client.exists(`cache:__history:${c.id}`)).toBe(0)
    // An instance that died without closing: its last publication's expiry has passed.
    const point = (await historyOf(a)).body.data.points[0]
    await a.client.zadd('cache:__history', Date.now() - 1, 'deadbeef')
    await a.client.rpush('cache:__history:deadbeef', JSON.stringify(point))
    expect(await listed()).not.toContain('deadbeef')
    expect((await historyOf(a, '?instance=deadbeef')).status).toBe(404)
  })
})

describe('an admin without a Redis client', () => {
  it('serves only its own history, and says it is not shared', async () => {
    const redis = await startRedis()
    const alone = await startInstance(redis.url, false)
    try {
      await sleep(2 * INTERVAL_MS)
      const { body } = await historyOf(alone, '?instance=all')
      expect(body.data.shared).toBe(false)
      expect(body.data.series.map((s: InstanceSeries) => s.instance)).toEqual([alone.id])
      expect(await alone.client.exists(`cache:__history:${alone.id}`)).toBe(0)
    } finally {
      await stopInstance(alone)
      await redis.stop()
    }
  })
})
