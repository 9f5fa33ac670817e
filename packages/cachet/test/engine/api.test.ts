import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cached, createCache, hashKey, stableStringify } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let n = 0
function newCache(overrides: Parameters<typeof createCache>[0] = {}) {
  return createCache({ redis: redis.url, prefix: `api${n++}`, logger: false, l2: RELAXED_L2, ...overrides })
}

describe('batch operations', () => {
  it('getOrSetMany reads all keys at once and calls the loader once with only the missing keys', async () => {
    const cache = newCache()
    await cache.setMany([
      { key: 'user:1', value: { id: 1 } },
      { key: 'user:3', value: { id: 3 } },
    ])
    const asked: string[][] = []
    const users = await cache.getOrSetMany(['user:1', 'user:2', 'user:3', 'user:4'], async (missing) => {
      asked.push(missing)
      return new Map(missing.map((key) => [key, { id: Number(key.split(':')[1]) }]))
    })
    expect(asked).toEqual([['user:2', 'user:4']])
    expect(users).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }])
    await sleep(50)
    const again = await cache.getOrSetMany(['user:2', 'user:4'], async (missing) => {
      asked.push(missing)
      return []
    })
    expect(again).toEqual([{ id: 2 }, { id: 4 }])
    expect(asked).toHaveLength(1)
    await cache.close()
  })

  it('getMany and setMany round-trip through one pipeline, from a second instance too', async () => {
    const a = newCache({ prefix: 'batch-shared' })
    const b = newCache({ prefix: 'batch-shared', l1: false })
    expect(
      await a.setMany([
        { key: 'p:1', value: 'one' },
        { key: 'p:2', value: 'two', ttl: '1m' },
      ]),
    ).toEqual([true, true])
    expect(await b.getMany(['p:1', 'p:2', 'p:3'])).toEqual(['one', 'two', undefined])
    await Promise.all([a.close(), b.close()])
  })
})

describe('TTL', () => {
  it('applies smart TTL rules by key prefix (seed 004), per-call ttl, expire() and ttl()', async () => {
    const cache = newCache({
      jitter: 0,
      ttl: '5m',
      ttlRules: { 'stock:available': '1m', 'dashboard:': '5m', 'search:': '1h' },
    })
    await cache.set('stock:available:42', 7)
    await cache.set('search:laptop', [])
    await cache.set('other', 1, { ttl: '10s' })
    const near = (value: number | undefined, expected: number) => Math.abs((value ?? 0) - expected) < 2_000
    expect(near(await cache.ttl('stock:available:42'), 60_000)).toBe(true)
    expect(near(await cache.ttl('search:laptop'), 3_600_000)).toBe(true)
    expect(near(await cache.ttl('other'), 10_000)).toBe(true)
    expect(await cache.expire('other', '2h')).toBe(true)
    expect(near(await cache.ttl('other'), 7_200_000)).toBe(true)
    expect(await cache.expire('missing', '1m')).toBe(false)
    expect(await cache.ttl('missing')).toBeUndefined()
    await cache.close()
  })

  it('adaptive TTL follows the loader duration (seed 003 §5.3)', async () => {
    const cache = newCache({
      jitter: 0,
      adaptiveTtl: [
        { slowerThan: 100, ttl: '30m' },
        { slowerThan: 0, ttl: '1m' },
      ],
    })
    await cache.getOrSet('fast', async () => 1)
    await cache.getOrSet('slow', async () => {
      await sleep(150)
      return 2
    })
    expect((await cache.ttl('fast'))!).toBeLessThanOrEqual(60_000)
    expect((await cache.ttl('slow'))!).toBeGreaterThan(29 * 60_000)
    await cache.close()
  })
})

describe('wrap and the method decorator', () => {
  it('wrap memoizes by function name and arguments', async () => {
    const cache = newCache()
    let calls = 0
    async function revenue(period: string, options: { currency: string }) {
      calls++
      return `${period}-${options.currency}`
    }
    const cachedRevenue = cache.wrap(revenue, { ttl: '10m', tags: ['revenue'] })
    expect(await cachedRevenue('30d', { currency: 'EUR' })).toBe('30d-EUR')
    expect(await cachedRevenue('30d', { currency: 'EUR' })).toBe('30d-EUR')
    expect(await cachedRevenue('7d', { currency: 'EUR' })).toBe('7d-EUR')
    expect(calls).toBe(2)
    await cache.invalidateTags(['revenue'])
    await cachedRevenue('30d', { currency: 'EUR' })
    expect(calls).toBe(3)
    await cache.close()
  })

  it('a TC39 method decorator caches a class method', async () => {
    const cache = newCache()
    let calls = 0
    class Reports {
      factor = 2
      async double(x: number) {
        calls++
        return x * this.factor
      }
    }
    const decorate = cached(cache, { ttl: '1m' })
    const method = decorate(Reports.prototype.double, { name: 'double' } as ClassMethodDecoratorContext<
      Reports,
      (this: Reports, x: number) => Promise<number>
    >)
    const reports = new Reports()
    expect(await method.call(reports, 21)).toBe(42)
    expect(await method.call(reports, 21)).toBe(42)
    expect(calls).toBe(1)
    await cache.close()
  })

  it('the same decorator caches under experimentalDecorators (target, name, descriptor)', async () => {
    const cache = newCache()
    let calls = 0
    class Reports {
      async triple(x: number) {
        calls++
        return x * 3
      }
    }
    const descriptor = Object.getOwnPropertyDescriptor(Reports.prototype, 'triple')!
    Object.defineProperty(
      Reports.prototype,
      'triple',
      cached(cache, { ttl: '1m' })(Reports.prototype, 'triple', descriptor),
    )
    const reports = new Reports()
    expect(await reports.triple(5)).toBe(15)
    expect(await reports.triple(5)).toBe(15)
    expect(calls).toBe(1)
    expect(await cache.get('method:Reports.triple:' + hashKey(stableStringify([5])))).toBe(15)
    await cache.close()
  })

  it('a decorator applied to anything but a method throws instead of caching nothing', () => {
    const cache = newCache()
    const decorate = cached(cache) as unknown as (...args: unknown[]) => unknown
    expect(() => decorate(undefined, { kind: 'field', name: 'x' })).toThrow(/class methods only/)
    expect(() => decorate({}, 'x', { get: () => 1 })).toThrow(/class methods only/)
    void cache.close()
  })
})

describe('stats, events, health', () => {
  it('counts hits, misses and loads per namespace and emits events', async () => {
    const cache = newCache()
    const events: string[] = []
    cache.on('hit', ({ tier }) => events.push(`hit:${tier}`))
    cache.on('miss', () => events.push('miss'))
    cache.on('invalidate', ({ count }) => events.push(`invalidate:${count}`))
    await cache.getOrSet('dashboard:a', async () => 1)
    await cache.getOrSet('dashboard:a', async () => 1)
    await cache.getOrSet('search:q', async () => 2)
    await cache.delete('search:q')
    const stats = cache.stats()
    expect(stats.hits).toBe(1)
    expect(stats.misses).toBe(2)
    expect(stats.loads).toBe(2)
    expect(stats.hitRate).toBeCloseTo(1 / 3)
    expect(stats.namespaces.dashboard).toMatchObject({ hits: 1, misses: 1 })
    expect(events).toEqual(['miss', 'hit:l1', 'miss', 'invalidate:1'])
    const health = await cache.health()
    expect(health.status).toBe('healthy')
    expect(health.redis.latencyMs).toBeGreaterThanOrEqual(0)
    expect(health.latencyMs).toBe(health.redis.latencyMs) // DESIGN's top-level shape too
    expect(health.memory?.used).toBeGreaterThan(0)
    await cache.close()
  })

  it('rejects calls after close() with a typed error', async () => {
    const cache = newCache()
    await cache.close()
    await expect(cache.getOrSet('k', async () => 1)).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' })
  })
})

describe('probabilistic early refresh and serializers', () => {
  it('refreshes a hot key before it expires (XFetch), so callers never wait on the loader', async () => {
    const cache = newCache({ jitter: 0, ttl: 400, grace: false, earlyRefresh: { beta: 2 } })
    let calls = 0
    const loader = async () => {
      calls++
      await sleep(60)
      return calls
    }
    await cache.getOrSet('hot', loader)
    const started = Date.now()
    while (Date.now() - started < 1_500) {
      await cache.getOrSet('hot', loader)
      await sleep(5)
    }
    // The key lived 1.5 s on a 400 ms ttl: refreshed several times, yet only the first call missed,
    // in every tier (a background refresh is no caller's miss).
    expect(calls).toBeGreaterThan(2)
    const stats = cache.stats()
    expect(stats.misses).toBe(1)
    expect(stats.l2?.misses).toBe(1)
    // Each caller that missed L1 read Redis, counted there once.
    expect(stats.l1?.misses).toBe(stats.l2!.hits + stats.l2!.misses)
    await cache.close()
  })

  it('round-trips values with msgpack across tiers', async () => {
    const a = newCache({ prefix: 'mp', serializer: 'msgpack' })
    const b = newCache({ prefix: 'mp', serializer: 'msgpack', l1: false })
    const value = { when: new Date(7), list: [1, 'two', null], nested: { ok: true } }
    await a.set('v', value)
    expect(await b.get('v')).toEqual(value)
    await Promise.all([a.close(), b.close()])
  })
})

describe('key browser', () => {
  it('pages through every live key once, hides tombstones, and inspects entries', async () => {
    const cache = newCache()
    await cache.setMany(
      Array.from({ length: 250 }, (_, i) => ({ key: `page:${i}`, value: i, tags: ['pages'] })),
    )
    expect(await cache.delete('page:0')).toBe(true) // leaves a tombstone behind in Redis
    const seen: string[] = []
    let cursor = '0'
    do {
      const page = await cache.keys({ pattern: 'page:*', cursor, limit: 40 })
      expect(page.keys.length).toBeLessThanOrEqual(40)
      seen.push(...page.keys.map((info) => info.key))
      cursor = page.cursor
    } while (cursor !== '0')
    // SCAN semantics: every key present throughout is listed; one may come twice if Redis rehashes meanwhile.
    expect([...new Set(seen)].sort()).toEqual(Array.from({ length: 249 }, (_, i) => `page:${i + 1}`).sort())
    expect(await cache.countByPattern('page:*')).toMatchObject({ count: 249 })
    const details = await cache.inspect('page:7')
    expect(details).toMatchObject({
      key: 'page:7',
      state: 'fresh',
      value: 7,
      tags: ['pages'],
      compressed: false,
    })
    expect(await cache.inspect('page:0')).toMatchObject({ state: 'tombstone' })
    expect(await cache.inspect('missing')).toBeUndefined()
    await expect(cache.keys({ cursor: '12.xyz' })).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    await cache.close()
  })
})

describe('loader context', () => {
  it('noStore() returns the value to every caller of that load without caching it', async () => {
    const cache = newCache()
    let calls = 0
    const loader = async ({ noStore }: { noStore(): void }) => {
      calls++
      await sleep(20)
      noStore()
      return { error: 'upstream answered 503' }
    }
    const answers = await Promise.all([cache.getOrSet('k', loader), cache.getOrSet('k', loader)])
    expect(answers).toEqual([{ error: 'upstream answered 503' }, { error: 'upstream answered 503' }])
    expect(calls).toBe(1)
    expect(await cache.has('k')).toBe(false)
    expect(cache.stats().errors).toBe(0)
    await cache.getOrSet('k', loader)
    expect(calls).toBe(2)
    await cache.close()
  })

  it('tells the loader the key, the stale value it refreshes, and whether anyone waits', async () => {
    const cache = newCache({ jitter: 0, ttl: 50, timeouts: { soft: 0 } })
    const seen: Array<{ key: string; stale: unknown; background: boolean }> = []
    const loader = async (context: { key: string; stale?: number; background: boolean }) => {
      seen.push({ key: context.key, stale: context.stale, background: context.background })
      return (context.stale ?? 0) + 1
    }
    await cache.getOrSet('counter', loader)
    await sleep(80)
    expect(await cache.getOrSet('counter', loader)).toBe(1) // stale at once; refresh runs behind
    await sleep(50)
    expect(seen).toEqual([
      { key: 'counter', stale: undefined, background: false },
      { key: 'counter', stale: 1, background: false },
    ])
    await cache.close()
  })
})
