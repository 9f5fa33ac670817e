import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { startChaosProxy } from '../../src/testing/index.js'
import { freePort, RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let redis: TestRedis | undefined
afterEach(async () => {
  await redis?.stop()
  redis = undefined
})

function countUnhandled() {
  let count = 0
  const listener = () => {
    count++
  }
  process.on('unhandledRejection', listener)
  return {
    get count() {
      return count
    },
    stop: () => process.off('unhandledRejection', listener),
  }
}

describe('Redis trouble never fails a request', () => {
  it('Redis SIGSTOPped for 5 s, then SIGCONTed, while calls keep coming: no call fails or hangs', async () => {
    redis = await startRedis()
    const unhandled = countUnhandled()
    const cache = createCache({ redis: redis.url, prefix: 'frozen', logger: false })
    for (let i = 0; i < 20; i++) await cache.getOrSet(`warm:${i}`, async () => i)
    await sleep(100)

    const durations: number[] = []
    let failures = 0
    let call = 0
    const loader = async () => {
      await sleep(10)
      return 'loaded'
    }
    const fire = async () => {
      const started = Date.now()
      const key = call % 2 === 0 ? `warm:${call % 20}` : `cold:${call}`
      call++
      try {
        await cache.getOrSet(key, loader)
      } catch {
        failures++
      }
      durations.push(Date.now() - started)
    }

    const healthBefore = await cache.health()
    redis.pause()
    const pausedAt = Date.now()
    const inflight: Promise<void>[] = []
    while (Date.now() - pausedAt < 5_000) {
      inflight.push(fire())
      await sleep(25)
    }
    const healthDuring = await cache.health()
    redis.resume()
    const resumedAt = Date.now()
    while (Date.now() - resumedAt < 1_000) {
      inflight.push(fire())
      await sleep(25)
    }
    await Promise.all(inflight)

    expect(healthBefore.status).toBe('healthy')
    expect(healthDuring.status).toBe('unhealthy')
    expect(failures).toBe(0)
    // A call every 25 ms: 240 on a quiet machine, far fewer when timers run late on a starved one.
    expect(call).toBeGreaterThan(40)
    // Bounded: a call pays at most the command deadline (plus the loader), never the 5 s freeze that
    // the first calls would wait out; the margin is for a starved machine's late timers.
    expect(Math.max(...durations)).toBeLessThan(3_500)
    expect(cache.stats().errors).toBeGreaterThan(0)

    // Recovers by itself: once the circuit closes again, values reach Redis (polled, as a starved
    // machine closes it late; a tier that never recovers still fails after 15 s).
    const raw = new Redis(redis.url)
    await expect
      .poll(
        async () => {
          await cache.set('after', 'back')
          return raw.exists('frozen:after')
        },
        { timeout: 15_000, interval: 250 },
      )
      .toBe(1)
    raw.disconnect()
    expect((await cache.health()).status).toBe('healthy')
    await cache.close()
    unhandled.stop()
    expect(unhandled.count).toBe(0)
  }, 60_000)

  it('starts without Redis, serves from the loader, and attaches L2 once Redis appears (R8)', async () => {
    const port = await freePort()
    const cache = createCache({ redis: `redis://127.0.0.1:${port}`, prefix: 'late', logger: false })
    expect(await cache.getOrSet('a', async () => 1)).toBe(1)
    expect((await cache.health()).status).toBe('unhealthy')
    redis = await startRedis([], { port })
    await sleep(6_000) // reconnect backoff + circuit half-open probe
    await cache.set('b', 2)
    const raw = new Redis(`redis://127.0.0.1:${port}`)
    expect(await raw.exists('late:b')).toBe(1)
    raw.disconnect()
    await cache.close()
  }, 30_000)

  it('stores a 500 KB JSON value at under a third of its size', async () => {
    redis = await startRedis()
    const cache = createCache({ redis: redis.url, prefix: 'big', logger: false })
    const rows = Array.from({ length: 5_000 }, (_, i) => ({
      day: `2026-01-${String((i % 28) + 1).padStart(2, '0')}`,
      category: ['books', 'games', 'tools', 'garden'][i % 4],
      unique_customers: 100 + (i % 977),
      order_count: 1_000 + i,
      revenue: Math.round(i * 1234.56) / 100,
      p95_order_value: 99.99,
    }))
    const json = JSON.stringify(rows)
    expect(json.length).toBeGreaterThan(500_000)
    await cache.set('report:revenue', rows)
    const raw = new Redis(redis.url)
    const stored = await raw.strlen('big:report:revenue')
    raw.disconnect()
    expect(stored).toBeLessThan(json.length / 3)
    expect(
      await createCache({ redis: redis.url, prefix: 'big', logger: false, l1: false }).get('report:revenue'),
    ).toEqual(rows)
    await cache.close()
  })
})

describe('a busy process is not a slow Redis', () => {
  it('blocking the event loop past the Redis deadline neither fails calls nor opens the circuit', async () => {
    redis = await startRedis()
    const cache = createCache({ redis: redis.url, prefix: 'busy', logger: false, l1: false })
    await cache.set('k', 'v')
    const circuit: string[] = []
    cache.on('circuit', ({ state }) => circuit.push(state))
    for (let round = 0; round < 5; round++) {
      const reads = Array.from({ length: 10 }, () => cache.get('k'))
      const until = Date.now() + 300 // a synchronous 300 ms task, 3× the 100 ms deadline
      while (Date.now() < until) {
        // busy
      }
      expect(await Promise.all(reads)).toEqual(Array(10).fill('v'))
    }
    expect(circuit).toEqual([])
    expect(cache.stats().errors).toBe(0)
    await cache.close()
  })
})

describe('invalidations during an outage are not lost (R6)', () => {
  it('a delete made while Redis is frozen reaches Redis and the other instances once it is back', async () => {
    redis = await startRedis()
    const a = createCache({ redis: redis.url, prefix: 'r6', logger: false })
    const b = createCache({ redis: redis.url, prefix: 'r6', logger: false })
    await sleep(200) // subscribers ready
    await a.set('k', 'v1')
    expect(await b.get('k')).toBe('v1') // now in b's L1 too
    redis.pause()
    expect(await a.delete('k')).toBe(false) // L2 unreachable: queued, not forgotten
    expect(await a.get('k')).toBeUndefined() // gone from a's L1 at once
    redis.resume()
    let bSees: unknown = 'v1'
    for (let waited = 0; waited < 10_000 && bSees !== undefined; waited += 200) {
      await sleep(200)
      bSees = await b.get('k')
    }
    expect(bSees).toBeUndefined()
    const reader = createCache({ redis: redis.url, prefix: 'r6', logger: false, l1: false })
    expect(await reader.get('k')).toBeUndefined()
    await Promise.all([a.close(), b.close(), reader.close()])
  }, 30_000)
})

describe('a lost bus message never leaves L1 stale (C4)', () => {
  it('re-checks L1 when the subscriber was cut off, so a change published meanwhile is not missed', async () => {
    redis = await startRedis()
    // b reaches Redis through a proxy that keeps it cut off until the change is published: killing
    // its subscriber on Redis let it reconnect, on a starved machine, before the message left.
    const proxy = await startChaosProxy({ target: { port: redis.port } })
    const a = createCache({ redis: redis.url, prefix: 'c4', logger: false })
    const b = createCache({ redis: proxy.url, prefix: 'c4', logger: false })
    const flushes: string[] = []
    b.on('l1-flush', ({ reason }) => flushes.push(reason))
    await sleep(200)
    await a.set('k', 'v1')
    expect(await b.get('k')).toBe('v1')
    proxy.refuse()
    proxy.cut() // b's connections, its subscriber among them, are cut and cannot come back
    await a.set('k', 'v2') // published while b cannot hear it
    proxy.heal()
    let bSees: unknown = 'v1'
    for (let waited = 0; waited < 15_000 && bSees !== 'v2'; waited += 100) {
      await sleep(100)
      bSees = await b.get('k')
    }
    expect(bSees).toBe('v2')
    expect(flushes.length).toBeGreaterThan(0)
    await Promise.all([a.close(), b.close()])
    await proxy.close()
  }, 40_000)
})

describe('Redis full (R7)', () => {
  it('with maxmemory reached under noeviction, reads still work and refused writes never fail a call', async () => {
    redis = await startRedis(['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'])
    // Deadlines of seconds: on a starved machine a write that merely runs late would count as a
    // failure and open the circuit; the OOM answers alone must not.
    const cache = createCache({
      redis: redis.url,
      prefix: 'full',
      logger: false,
      compression: false,
      l2: RELAXED_L2,
    })
    await cache.set('before', 'kept')
    const big = 'x'.repeat(20_000)
    let refused = 0
    for (let i = 0; i < 400; i++) if (!(await cache.set(`fill:${i}`, big))) refused++
    expect(refused).toBeGreaterThan(0) // Redis answered OOM at some point
    // Misses still answer from the loader; their refused writes are absorbed.
    for (let i = 0; i < 20; i++) expect(await cache.getOrSet(`new:${i}`, async () => i)).toBe(i)
    const reader = createCache({ redis: redis.url, prefix: 'full', logger: false, l1: false })
    expect(await reader.get('before')).toBe('kept')
    // OOM is an answer, not an outage: the circuit stays closed and health says degraded (memory).
    expect(cache.stats().l2?.circuit).toBe('closed')
    const health = await cache.health()
    expect(health.status).toBe('degraded')
    expect(health.reasons.join(' ')).toMatch(/memory/)
    await Promise.all([cache.close(), reader.close()])
  }, 30_000)
})
