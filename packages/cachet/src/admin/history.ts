import { randomBytes } from 'node:crypto'
import type { CacheApi, CacheEvents, CacheHealth } from '../core/cache-api.js'
import { LatencySample, type Percentiles } from './latency-sample.js'

/** Options of the sampler behind GET /history. */
export interface HistoryOptions {
  /** Time between two points, in ms (at least 100). @default 5000 */
  intervalMs?: number
  /** How far back the history goes, in ms; older points are dropped. @default 900000 (15 min) */
  windowMs?: number
}

/** One sampling interval of this instance. Rates are per second; null where nothing was measured. */
export interface HistoryPoint {
  /** End of the interval (UTC ms). */
  at: number
  /** (hits + stale) / (hits + stale + misses) during the interval. */
  hitRate: number | null
  opsPerSecond: { hit: number; miss: number; stale: number; error: number }
  /** Reads answered from Redis (L1 hits take microseconds and are not timed). */
  readMs: Percentiles | null
  loaderMs: Percentiles | null
  l1Bytes: number | null
  redisMemoryBytes: number | null
  /** Redis failures counted by the engine during the interval. */
  l2Errors: number
  /** 0 closed, 1 half-open, 2 open; null without Redis. */
  circuit: 0 | 1 | 2 | null
}

/** A bounded in-memory history of the cache's figures, sampled on a timer. */
export interface History {
  /** Names this process in the answers, so a page behind a load balancer can tell instances apart. */
  readonly instance: string
  readonly intervalMs: number
  readonly windowMs: number
  /** Oldest first. */
  points(): HistoryPoint[]
  close(): void
}

const CIRCUIT = { closed: 0, 'half-open': 1, open: 2 } as const
const MIN_INTERVAL_MS = 100

/**
 * Starts sampling `cache` every `intervalMs`: counts its hit, miss, stale and error events, keeps the
 * read and loader durations of the interval for their percentiles, and reads memory and circuit
 * state from `stats()` and `health()` (the admin's reused one). Keeps `windowMs` of points.
 */
export function createHistory(
  cache: CacheApi,
  health: () => Promise<CacheHealth>,
  options: HistoryOptions = {},
): History {
  const intervalMs = Math.max(MIN_INTERVAL_MS, options.intervalMs ?? 5000)
  const windowMs = Math.max(intervalMs, options.windowMs ?? 900_000)
  const capacity = Math.ceil(windowMs / intervalMs)
  const points: HistoryPoint[] = []
  const counts = { hit: 0, miss: 0, stale: 0, error: 0 }
  const reads = new LatencySample()
  const loads = new LatencySample()
  let l2ErrorsBefore = cache.stats().l2?.errors ?? 0
  let last = Date.now()
  let sampling = false

  const listeners: { [E in keyof CacheEvents]?: (payload: CacheEvents[E]) => void } = {
    hit: ({ tier, durationMs }) => {
      counts.hit++
      // Reads answered from Redis only (docs/admin.md); L1 hits are timed too, for the Prometheus histogram.
      if (tier === 'l2' && durationMs !== undefined) reads.add(durationMs)
    },
    miss: () => counts.miss++,
    stale: () => counts.stale++,
    error: () => counts.error++,
    load: ({ durationMs }) => loads.add(durationMs),
  }
  const subscriptions = Object.entries(listeners) as Array<
    [keyof CacheEvents, (payload: CacheEvents[keyof CacheEvents]) => void]
  >
  for (const [event, listener] of subscriptions) cache.on(event, listener)

  const sample = async () => {
    // A health check slower than the interval (Redis frozen) must not pile up samples.
    if (sampling) return
    sampling = true
    try {
      const now = Date.now()
      const seconds = Math.max(0.001, (now - last) / 1000)
      last = now
      const { hit, miss, stale, error } = counts
      counts.hit = counts.miss = counts.stale = counts.error = 0
      const readMs = reads.take()
      const loaderMs = loads.take()
      const stats = cache.stats()
      const l2Errors = stats.l2?.errors ?? 0
      const lookups = hit + stale + miss
      const redisMemory = (await health().catch(() => undefined))?.redis.usedMemory
      points.push({
        at: now,
        hitRate: lookups === 0 ? null : (hit + stale) / lookups,
        opsPerSecond: {
          hit: rate(hit, seconds),
          miss: rate(miss, seconds),
          stale: rate(stale, seconds),
          error: rate(error, seconds),
        },
        readMs,
        loaderMs,
        l1Bytes: stats.l1?.bytes ?? null,
        redisMemoryBytes: redisMemory ?? null,
        l2Errors: Math.max(0, l2Errors - l2ErrorsBefore),
        circuit: stats.l2 ? CIRCUIT[stats.l2.circuit] : null,
      })
      l2ErrorsBefore = l2Errors
      if (points.length > capacity) points.splice(0, points.length - capacity)
    } finally {
      sampling = false
    }
  }
  const timer = setInterval(() => void sample(), intervalMs)
  timer.unref()

  return {
    instance: randomBytes(4).toString('hex'),
    intervalMs,
    windowMs,
    points: () => points.slice(),
    close() {
      clearInterval(timer)
      for (const [event, listener] of subscriptions) cache.off(event, listener)
    },
  }
}

function rate(count: number, seconds: number): number {
  return Math.round((count / seconds) * 100) / 100
}
