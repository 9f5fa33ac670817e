import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { type CachetMetrics, createMetrics, metricsPlugin } from '../../src/metrics/prometheus.js'
import { plainClient } from '../admin/setup.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let client: Redis
let cache: CacheApi
let metrics: CachetMetrics
let app: FastifyInstance

beforeAll(async () => {
  redis = await startRedis(['--maxmemory', '64mb'])
  client = plainClient(redis.url)
  await new Promise((resolve) => client.once('ready', resolve))
  cache = createCache({ redis: redis.url, prefix: 'cache', logger: false, bus: false })
  metrics = createMetrics(cache, { registry: new Registry(), maxNamespaces: 5 })
  app = Fastify({ logger: false })
  await app.register(metricsPlugin, { metrics })
  await app.ready()
})
afterAll(async () => {
  metrics.close()
  await app.close()
  await cache.close()
  client.disconnect()
  await redis.stop()
})

async function scrape(): Promise<string> {
  const response = await app.inject({ method: 'GET', url: '/metrics' })
  expect(response.statusCode).toBe(200)
  expect(response.headers['content-type']).toMatch(/^text\/plain/)
  return response.body
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('createMetrics', () => {
  it('counts hits, misses, loads, sets and invalidations per namespace and tier', async () => {
    await cache.getOrSet('users:1', async () => ({ id: 1 }), { tags: ['people'] })
    await cache.getOrSet('users:1', async () => ({ id: 1 }))
    await cache.getOrSet('users:2', async () => null)
    await cache.set('products:1', { id: 1 })
    await cache.invalidateTags(['people'])
    await cache.deleteByPattern('products:*')
    const text = await scrape()
    expect(value(text, 'cachet_hits_total{namespace="users",tier="l1"}')).toBe(1)
    expect(value(text, 'cachet_misses_total{namespace="users"}')).toBe(2)
    expect(value(text, 'cachet_loads_total{namespace="users",result="ok"}')).toBe(2)
    expect(value(text, 'cachet_loader_duration_seconds_count{namespace="users"}')).toBe(2)
    expect(value(text, 'cachet_sets_total{namespace="products"}')).toBe(1)
    expect(value(text, 'cachet_invalidations_total{kind="tags"}')).toBe(1)
    expect(value(text, 'cachet_invalidated_keys_total{kind="tags"}')).toBe(1)
    expect(value(text, 'cachet_invalidations_total{kind="pattern"}')).toBe(1)
  })

  it('reads gauges on scrape: hit ratio, L1, circuit and Redis figures', async () => {
    const text = await scrape()
    expect(value(text, 'cachet_hit_ratio')).toBeGreaterThan(0)
    expect(value(text, 'cachet_l1_max_bytes')).toBeGreaterThan(0)
    expect(value(text, 'cachet_circuit_state')).toBe(0)
    expect(value(text, 'cachet_redis_up')).toBe(1)
    expect(value(text, 'cachet_redis_latency_seconds')).toBeGreaterThanOrEqual(0)
    expect(value(text, 'cachet_redis_memory_used_bytes')).toBeGreaterThan(0)
    expect(value(text, 'cachet_redis_memory_max_bytes')).toBe(64 * 1024 * 1024)
    expect(value(text, 'cachet_redis_keys')).toBeGreaterThanOrEqual(1)
    expect(value(text, 'cachet_redis_evicted_keys')).toBe(0)
    expect(value(text, 'cachet_redis_connected_clients')).toBeGreaterThanOrEqual(1)
    expect(value(text, 'cachet_redis_ops_per_second')).toBeGreaterThanOrEqual(0)
  })

  it('caps namespace label values', async () => {
    for (let i = 0; i < 20; i++) await cache.getOrSet(`tenant${i}:x`, async () => i)
    const text = await scrape()
    const namespaces = new Set(
      [...text.matchAll(/cachet_misses_total\{namespace="([^"]+)"\}/g)].map((m) => m[1]),
    )
    expect(namespaces.size).toBeLessThanOrEqual(6)
    expect(namespaces.has('other')).toBe(true)
  })

  it('stops counting after close()', async () => {
    const registry = new Registry()
    const scoped = createMetrics(cache, { registry, prefix: 'scoped_' })
    scoped.close()
    await cache.getOrSet('users:after-close', async () => 1)
    expect(await registry.metrics()).not.toMatch(/scoped_misses_total\{/)
  })
})

describe('read latency and the stampede lock', () => {
  it('counts every read per tier and every lock outcome, as stats() does, across two caches', async () => {
    // No invalidation between the two (bus and tracking off): an instance's write would drop the other's copy.
    const options = {
      redis: redis.url,
      prefix: 'two',
      logger: false,
      bus: false,
      l1: { invalidation: 'bus' },
    } as const
    const a = createCache(options)
    const b = createCache(options)
    const ma = createMetrics(a, { registry: new Registry() })
    const mb = createMetrics(b, { registry: new Registry() })
    try {
      await a.getOrSet('reads:1', async () => 'one') // miss (A takes the lock)
      await a.getOrSet('reads:1', async () => 'one') // L1 hit
      await b.getOrSet('reads:1', async () => 'one') // L2 hit
      await b.getOrSet('reads:1', async () => 'one') // L1 hit
      expect(await a.get('reads:none')).toBeUndefined() // miss
      expect(await b.getMany(['reads:1', 'reads:none'])).toEqual(['one', undefined]) // L1 hit, miss

      // A contended key: A loads it slowly, B finds the lock held, waits and reads A's value from Redis.
      let loads = 0
      const slow = async () => {
        loads++
        await new Promise((resolve) => setTimeout(resolve, 300))
        return 'raced'
      }
      const first = a.getOrSet('race:1', slow)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(await Promise.all([first, b.getOrSet('race:1', slow)])).toEqual(['raced', 'raced'])
      expect(loads).toBe(1)

      const texts = [await ma.metrics(), await mb.metrics()]
      const sum = (series: string) => texts.reduce((total, text) => total + (value(text, series) ?? 0), 0)
      const count = (namespace: string, tier: string) =>
        sum(`cachet_read_duration_seconds_count{namespace="${namespace}",tier="${tier}"}`)
      const locks = (namespace: string, result: string) =>
        sum(`cachet_lock_acquisitions_total{namespace="${namespace}",result="${result}"}`)

      // What happened, per namespace and tier.
      expect([count('reads', 'l1'), count('reads', 'l2'), count('reads', 'miss')]).toEqual([3, 1, 3])
      expect([count('race', 'l1'), count('race', 'l2'), count('race', 'miss')]).toEqual([0, 1, 1])
      expect([locks('reads', 'acquired'), locks('reads', 'waited'), locks('reads', 'skipped')]).toEqual([
        1, 0, 0,
      ])
      expect([locks('race', 'acquired'), locks('race', 'waited'), locks('race', 'skipped')]).toEqual([
        1, 1, 0,
      ])

      // The same events feed stats(): the figures agree, cache by cache.
      for (const [cache, text] of [
        [a, texts[0]!],
        [b, texts[1]!],
      ] as const) {
        const stats = cache.stats()
        const tierCount = (tier: string) =>
          ['reads', 'race'].reduce(
            (total, namespace) =>
              total +
              (value(text, `cachet_read_duration_seconds_count{namespace="${namespace}",tier="${tier}"}`) ??
                0),
            0,
          )
        expect(tierCount('l1')).toBe(stats.l1!.hits)
        expect(tierCount('l2')).toBe(stats.l2!.hits)
        expect(tierCount('miss')).toBe(stats.misses)
        for (const [namespace, counters] of Object.entries(stats.namespaces)) {
          const series = (tier: string) =>
            value(text, `cachet_read_duration_seconds_count{namespace="${namespace}",tier="${tier}"}`) ?? 0
          expect(series('l1') + series('l2')).toBe(counters.hits)
          expect(series('miss')).toBe(counters.misses)
        }
        for (const result of ['acquired', 'waited', 'skipped'] as const) {
          const counted = ['reads', 'race'].reduce(
            (total, namespace) =>
              total +
              (value(text, `cachet_lock_acquisitions_total{namespace="${namespace}",result="${result}"}`) ??
                0),
            0,
          )
          expect(counted).toBe(stats.locks[result])
        }
      }
      expect(a.stats().lockWaits + b.stats().lockWaits).toBe(1)
      // L1 hits are timed too (microseconds; a starved machine once took over 10 ms, so the bound is 1 s).
      expect(sum('cachet_read_duration_seconds_bucket{le="1",namespace="reads",tier="l1"}')).toBe(3)
    } finally {
      ma.close()
      mb.close()
      await a.close()
      await b.close()
    }
  })
})

describe('scrape flood', () => {
  it('reads Redis at most once a second, however many scrapes come', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const calls = async () => {
      let total = 0
      for (const match of (await client.info('commandstats')).matchAll(/cmdstat_([\w|]+):calls=(\d+)/g)) {
        if (match[1] !== 'info') total += Number(match[2])
      }
      return total
    }
    const before = await calls()
    const started = performance.now()
    for (let wave = 0; wave < 5; wave++) await Promise.all(Array.from({ length: 40 }, () => scrape()))
    const seconds = (performance.now() - started) / 1000
    // One round is a PING, two INFOs and a DBSIZE: 2 commands besides INFO a second (200 scrapes
    // unmemoised would be 400); the bound leaves room for one stray command a second.
    expect((await calls()) - before).toBeLessThanOrEqual(3 * (Math.ceil(seconds) + 1))
  })
})

describe('metricsPlugin', () => {
  it('can require a bearer token', async () => {
    const guarded = Fastify({ logger: false })
    await guarded.register(metricsPlugin, { metrics, path: '/internal/metrics', token: 'scrape-secret' })
    const refused = await guarded.inject({ method: 'GET', url: '/internal/metrics' })
    expect(refused.statusCode).toBe(401)
    const wrong = await guarded.inject({
      method: 'GET',
      url: '/internal/metrics',
      headers: { authorization: 'Bearer nope' },
    })
    expect(wrong.statusCode).toBe(401)
    const allowed = await guarded.inject({
      method: 'GET',
      url: '/internal/metrics',
      headers: { authorization: 'Bearer scrape-secret' },
    })
    expect(allowed.body).toContain('cachet_hits_total')
    await guarded.close()
  })

  it('reports Redis down and still answers', async () => {
    await redis.kill()
    // The Redis figures are reused for a second: a later scrape sees Redis gone.
    await expect.poll(async () => value(await scrape(), 'cachet_redis_up'), { timeout: 5000 }).toBe(0)
    const text = await scrape()
    expect(value(text, 'cachet_redis_keys')).toBeNaN()
  })
})
