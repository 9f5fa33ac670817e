import { PGlite } from '@electric-sql/pglite'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Cache } from '../../src/core/cache.js'
import { fastifyCache } from '../../src/http/fastify.js'
import { createCache, type LoaderContext } from '../../src/index.js'
import { type CachetMetrics, createMetrics } from '../../src/metrics/prometheus.js'
import { createQueryCache } from '../../src/sql/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let cache: Cache
let other: Cache
let metrics: CachetMetrics
let db: PGlite

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  redis = await startRedis()
  const options = { redis: redis.url, prefix: 'parity', logger: false as const, l2: RELAXED_L2 }
  cache = createCache({ ...options, ttl: '1m', grace: '1h' })
  other = createCache(options)
  metrics = createMetrics(cache, { registry: new Registry() })
  db = new PGlite()
  await db.exec('CREATE TABLE items (id int primary key, name text); INSERT INTO items VALUES (1, $$a$$)')
})

afterAll(async () => {
  metrics.close()
  await cache.close()
  await other.close()
  await db.close()
  await redis.stop()
})

/** The sum of every series of a counter in the exposition text. */
function total(text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

describe('stats() and the Prometheus counters', () => {
  it('agree exactly after one workload through every read method, the HTTP cache and the SQL cache', async () => {
    // getOrSet: miss, L1 hit, L2 hit (written by another instance), 20 callers joining one load.
    await cache.getOrSet('a:1', async () => 1)
    await cache.getOrSet('a:1', async () => 1)
    await other.set('a:2', 2)
    await cache.getOrSet('a:2', async () => 0)
    await Promise.all(
      Array.from({ length: 20 }, () =>
        cache.getOrSet('a:joined', async () => {
          await sleep(30)
          return 'v'
        }),
      ),
    )
    // getOrSetResult, get (hit, miss, stale allowed), getMany, getOrSetMany, wrap.
    await cache.getOrSetResult('b:1', async () => 'b')
    await cache.get('b:1')
    await cache.get('b:absent')
    await cache.set('b:old', 'old', { ttl: 1 })
    await sleep(5)
    await cache.get('b:old', { allowStale: true })
    await cache.getMany(['a:1', 'b:1', 'b:none'])
    await cache.getOrSetMany(['c:1', 'c:2', 'a:1'], async (missing) => missing.map((key) => key.length))
    const double = cache.wrap(async function double(n: number) {
      return n * 2
    })
    await double(2)
    await double(2)
    // Fail-safe: a stale value served when the loader fails; a loader that fails with nothing stale.
    await cache.getOrSet('d:1', async () => 'first', { ttl: 1 })
    await sleep(5)
    await cache.getOrSet('d:1', async () => {
      throw new Error('source down')
    })
    await expect(
      cache.getOrSet('d:2', async () => {
        throw new Error('source down')
      }),
    ).rejects.toThrow('source down')

    // The HTTP cache: a miss, then hits.
    const app = Fastify()
    await app.register(fastifyCache, { cache })
    app.get('/api/x', { config: { cache: { type: 'dashboard' } } }, async () => ({ x: 1 }))
    await app.ready()
    for (let i = 0; i < 3; i++) await app.inject({ method: 'GET', url: '/api/x' })
    await app.close()

    // The SQL cache: a miss, then a hit.
    const queries = createQueryCache({ cache, db })
    await queries.query('SELECT name FROM items WHERE id = $1', [1])
    await queries.query('SELECT name FROM items WHERE id = $1', [1])

    const stats = cache.stats()
    const text = await metrics.metrics()
    expect(stats.hits).toBeGreaterThanOrEqual(10)
    expect(stats.misses).toBeGreaterThan(20)
    expect(stats.staleHits).toBeGreaterThanOrEqual(2)
    expect(total(text, 'cachet_hits_total')).toBe(stats.hits)
    expect(total(text, 'cachet_misses_total')).toBe(stats.misses)
    expect(total(text, 'cachet_stale_hits_total')).toBe(stats.staleHits)
    expect(total(text, 'cachet_loads_total')).toBe(stats.loads)
    expect(total(text, 'cachet_errors_total')).toBe(stats.errors)
    // Per namespace too.
    for (const [namespace, counters] of Object.entries(stats.namespaces)) {
      const series = (name: string) =>
        text
          .split('\n')
          .filter((line) => line.startsWith(`${name}{`) && line.includes(`namespace="${namespace}"`))
          .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
      expect(series('cachet_hits_total'), namespace).toBe(counters.hits)
      expect(series('cachet_misses_total'), namespace).toBe(counters.misses)
      expect(series('cachet_loads_total'), namespace).toBe(counters.loads)
    }
  })
})

describe('stats() and the Prometheus counters, loaders that answer synchronously', () => {
  it('count each call once: a miss, a fail-safe, a failure, fail() caught, stale-while-revalidate', async () => {
    const before = cache.stats()
    const calls = { hits: 0, misses: 0, stale: 0 }
    // A miss, then an L1 hit.
    expect(await cache.getOrSet('s:1', () => 'one')).toBe('one')
    expect(await cache.getOrSet('s:1', () => 'unused')).toBe('one')
    calls.misses++
    calls.hits++
    // A stale value served when the synchronous loader throws, or calls fail() and catches it.
    const failing = [
      () => {
        throw new Error('source down')
      },
      (ctx: LoaderContext<string>) => {
        try {
          ctx.fail()
        } catch {}
        return 'ignored'
      },
    ]
    for (const [i, loader] of failing.entries()) {
      await cache.getOrSet(`s:2${i}`, () => 'first', { ttl: 1 })
      calls.misses++
      await sleep(5)
      expect(await cache.getOrSetResult(`s:2${i}`, loader)).toMatchObject({
        value: 'first',
        outcome: 'stale',
      })
      calls.stale++
    }
    // No stale value: the synchronous failure reaches the caller, counted as a miss.
    await expect(
      cache.getOrSet('s:3', () => {
        throw new Error('source down')
      }),
    ).rejects.toThrow('source down')
    calls.misses++
    // Soft timeout 0 with an asynchronous loader: the stale value at once, the load goes on.
    await cache.getOrSet('s:4', () => 'old', { ttl: 1 })
    calls.misses++
    await sleep(5)
    const swr = await cache.getOrSetResult('s:4', async () => 'new', { timeouts: { soft: 0 } })
    expect(swr).toMatchObject({ value: 'old', outcome: 'stale', staleReason: 'swr' })
    calls.stale++
    await sleep(50)
    expect(await cache.getOrSet('s:4', () => 'unused')).toBe('new')
    calls.hits++

    const stats = cache.stats()
    expect(stats.hits - before.hits).toBe(calls.hits)
    expect(stats.misses - before.misses).toBe(calls.misses)
    expect(stats.staleHits - before.staleHits).toBe(calls.stale)
    const text = await metrics.metrics()
    expect(total(text, 'cachet_hits_total')).toBe(stats.hits)
    expect(total(text, 'cachet_misses_total')).toBe(stats.misses)
    expect(total(text, 'cachet_stale_hits_total')).toBe(stats.staleHits)
    expect(total(text, 'cachet_loads_total')).toBe(stats.loads)
    expect(total(text, 'cachet_errors_total')).toBe(stats.errors)
  })
})

describe('per-call options', () => {
  it('an invalid option throws before the loader runs', async () => {
    let ran = 0
    const loader = async () => {
      ran++
      return 1
    }
    await expect(cache.getOrSet('opt:1', loader, { ttl: 'soon' as never })).rejects.toMatchObject({
      code: 'E_INVALID_OPTION',
    })
    await expect(cache.getOrSet('opt:2', loader, { grace: -5 })).rejects.toThrow()
    await expect(cache.getOrSet('opt:3', loader, { timeouts: { hard: 'x' as never } })).rejects.toThrow()
    await expect(cache.getOrSet('opt:4', loader, { tags: ['__reserved'] })).rejects.toThrow()
    await expect(cache.getOrSetMany(['opt:5'], async () => [1], { ttl: 0 })).rejects.toThrow()
    expect(ran).toBe(0)
  })
})
