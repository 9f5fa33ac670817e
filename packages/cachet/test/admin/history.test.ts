import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHistory, type HistoryPoint } from '../../src/admin/history.js'
import { LatencySample } from '../../src/admin/latency-sample.js'
import { createCache } from '../../src/index.js'
import { ADMIN, type AdminHarness, startAdmin } from './setup.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function history(h: AdminHarness) {
  const response = await h.app.inject({ url: '/api/cache/history', headers: ADMIN })
  expect(response.statusCode).toBe(200)
  return response.json().data as {
    instance: string
    intervalMs: number
    windowMs: number
    points: HistoryPoint[]
  }
}

describe('LatencySample', () => {
  it('gives nearest-rank p50 and p99 of an interval, then starts over', () => {
    const sample = new LatencySample()
    for (let ms = 100; ms >= 1; ms--) sample.add(ms)
    expect(sample.take()).toEqual({ p50: 50, p99: 99 })
    expect(sample.take()).toBeNull()
  })

  it('keeps at most its capacity, a uniform sample of everything added', () => {
    const sample = new LatencySample(100)
    for (let i = 0; i < 100_000; i++) sample.add(i < 50_000 ? 1 : 1000)
    const { p50, p99 } = sample.take()!
    expect([1, 1000]).toContain(p50)
    expect(p99).toBe(1000)
  })

  it('ignores durations that are not finite non-negative numbers', () => {
    const sample = new LatencySample()
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) sample.add(bad)
    expect(sample.take()).toBeNull()
  })
})

describe('GET /history', () => {
  let h: AdminHarness
  beforeAll(async () => {
    h = await startAdmin({ history: { intervalMs: 200, windowMs: 1000 } })
  })
  afterAll(async () => h.close())

  it('samples hits, misses, read and loader latency, memory and circuit state', async () => {
    const slowLoader = async () => {
      await sleep(30)
      return { ok: true }
    }
    for (let i = 0; i < 10; i++) await h.cache.getOrSet(`items:${i}`, slowLoader)
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) await h.cache.getOrSet(`items:${i}`, slowLoader)
    }
    // A few misses last: on a starved machine the first ones can leave the 1 s window before the end.
    for (let i = 10; i < 13; i++) await h.cache.getOrSet(`items:${i}`, slowLoader)
    // Polled until the sampler has taken all of it, instead of a fixed wait its timer can overrun.
    const complete = (data: Awaited<ReturnType<typeof history>>) => {
      const busy = data.points.filter((point) => point.hitRate !== null)
      return (
        busy.some((p) => p.opsPerSecond.hit > 0) &&
        busy.some((p) => p.opsPerSecond.miss > 0 && p.loaderMs !== null) &&
        busy.some((p) => p.readMs !== null)
      )
    }
    let data = await history(h)
    for (const started = Date.now(); !complete(data) && Date.now() - started < 5_000; ) {
      await sleep(50)
      data = await history(h)
    }
    const { points, intervalMs, windowMs, instance } = data
    expect({ intervalMs, windowMs }).toEqual({ intervalMs: 200, windowMs: 1000 })
    expect(instance).toMatch(/^[0-9a-f]{8}$/)
    const busy = points.filter((point) => point.hitRate !== null)
    const hits = busy.reduce((sum, p) => sum + p.opsPerSecond.hit, 0)
    const misses = busy.reduce((sum, p) => sum + p.opsPerSecond.miss, 0)
    expect(hits).toBeGreaterThan(0)
    expect(misses).toBeGreaterThan(0)
    const loader = busy.find((point) => point.loaderMs !== null)!.loaderMs!
    expect(loader.p50).toBeGreaterThanOrEqual(25)
    expect(loader.p99).toBeGreaterThanOrEqual(loader.p50)
    // The harness runs without L1, so every hit is a timed read from Redis.
    expect(busy.some((point) => point.readMs !== null)).toBe(true)
    expect(points.at(-1)).toMatchObject({ circuit: 0, l2Errors: 0, l1Bytes: null })
    expect(points.at(-1)!.redisMemoryBytes).toBeGreaterThan(0)
    expect(points.map((p) => p.at)).toEqual([...points.map((p) => p.at)].sort((a, b) => a - b))
  })

  it('keeps only the window: old points are dropped', async () => {
    await sleep(1500)
    const { points } = await history(h)
    expect(points.length).toBeLessThanOrEqual(5)
    expect(points.length).toBeGreaterThanOrEqual(3)
    expect(points.at(-1)!.at - points[0]!.at).toBeLessThanOrEqual(1000)
    // Nothing happened meanwhile: no rate, no hit rate.
    expect(points.at(-1)).toMatchObject({
      hitRate: null,
      opsPerSecond: { hit: 0, miss: 0, stale: 0, error: 0 },
    })
  })

  it('takes its counts from stats(): a resetStats() between two samples never gives a negative rate', async () => {
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 10; i++) await h.cache.getOrSet(`items:${i}`, () => ({ ok: true }))
    }
    await sleep(300)
    h.cache.resetStats()
    for (let i = 0; i < 3; i++) await h.cache.getOrSet(`reset:${i}`, () => i)
    await sleep(450)
    const { points } = await history(h)
    for (const point of points) {
      for (const rate of Object.values(point.opsPerSecond)) expect(rate).toBeGreaterThanOrEqual(0)
      if (point.hitRate !== null) expect(point.hitRate).toBeLessThanOrEqual(1)
    }
    const misses = points.reduce((sum, p) => sum + p.opsPerSecond.miss, 0)
    expect(misses).toBeGreaterThan(0)
  })

  it('keeps a point per interval while health() never answers (a frozen Redis), without the memory figure', async () => {
    const cache = createCache({ redis: false, logger: false })
    const frozen = createHistory(cache, () => new Promise(() => {}), { intervalMs: 100 })
    try {
      await sleep(1_000)
      const points = frozen.points()
      // Ten intervals; a stuck sampler (the health wait unbounded) gives none.
      expect(points.length).toBeGreaterThanOrEqual(3)
      expect(points.every((point) => point.redisMemoryBytes === null)).toBe(true)
    } finally {
      await frozen.close()
      await cache.close()
    }
  })

  it('shows Redis failures and the circuit opening', async () => {
    await h.redis.kill()
    for (let i = 0; i < 10; i++) await h.cache.getOrSet(`down:${i}`, () => i)
    await expect
      .poll(async () => (await history(h)).points.some((p) => p.circuit === 2), {
        timeout: 5000,
      })
      .toBe(true)
    const points = (await history(h)).points
    expect(points.reduce((sum, p) => sum + p.l2Errors, 0)).toBeGreaterThan(0)
    expect(points.some((p) => p.opsPerSecond.error > 0)).toBe(true)
  })
})
