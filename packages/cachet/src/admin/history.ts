import { randomBytes } from 'node:crypto'
import type { CacheApi, CacheHealth, CacheStats } from '../core/cache-api.js'
import { listenAll } from '../core/listen-all.js'
import { valueWithin } from '../core/timeouts.js'
import type { HistoryShare, InstanceSeries } from './history-share.js'
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
  /** True when the points are published to Redis for the other instances (the admin has a Redis client). */
  readonly shared: boolean
  /** Oldest first. */
  points(): HistoryPoint[]
  /**
   * Every live instance's series, this one first (from memory), then the others as they published
   * them to Redis; only this one when the history is not shared or Redis does not answer.
   */
  allSeries(): Promise<InstanceSeries[]>
  /** One instance's points: this one's from memory, another's from Redis; undefined when not live. */
  seriesOf(instance: string): Promise<HistoryPoint[] | undefined>
  /** Stops sampling and withdraws this instance from the shared list. */
  close(): Promise<void>
}

const CIRCUIT = { closed: 0, 'half-open': 1, open: 2 } as const
const MIN_INTERVAL_MS = 100

/** How long a published series outlives its last point: three missed samples, plus slack for a slow one. */
export function shareTtlMs(intervalMs: number): number {
  return 3 * intervalMs + 2000
}

/** The sampling interval and the number of points kept, from the options. */
export function historyShape(options: HistoryOptions = {}): {
  intervalMs: number
  windowMs: number
  capacity: number
} {
  const intervalMs = Math.max(MIN_INTERVAL_MS, options.intervalMs ?? 5000)
  const windowMs = Math.max(intervalMs, options.windowMs ?? 900_000)
  return { intervalMs, windowMs, capacity: Math.ceil(windowMs / intervalMs) }
}

/**
 * Starts sampling `cache` every `intervalMs`: takes the interval's hits, misses, stale reads and errors
 * from the counters of `stats()`, keeps the read and loader durations of the interval (from the events)
 * for their percentiles, and reads memory and circuit state from `stats()` and `health()` (the
 * admin's reused one). Keeps `windowMs` of points, and publishes each point to `share` when given,
 * so other instances can show this one's history.
 */
export function createHistory(
  cache: CacheApi,
  health: () => Promise<CacheHealth>,
  options: HistoryOptions = {},
  share?: HistoryShare,
): History {
  const { intervalMs, windowMs, capacity } = historyShape(options)
  const instance = randomBytes(4).toString('hex')
  const points: HistoryPoint[] = []
  const reads = new LatencySample()
  const loads = new LatencySample()
  let countsBefore = countsOf(cache.stats())
  let last = Date.now()
  let sampling = false
  let closed = false

  const stopListening = listenAll(cache, {
    // Only durations: the counts come from stats(), which counts each read once (core/outcome.ts).
    hit: ({ tier, durationMs }) => {
      // Reads answered from Redis only (docs/admin.md); L1 hits are timed too, for the Prometheus histogram.
      if (tier === 'l2' && durationMs !== undefined) reads.add(durationMs)
    },
    load: ({ durationMs }) => loads.add(durationMs),
  })

  const sample = async () => {
    if (sampling) return
    sampling = true
    try {
      const now = Date.now()
      const seconds = Math.max(0.001, (now - last) / 1000)
      last = now
      const readMs = reads.take()
      const loaderMs = loads.take()
      const stats = cache.stats()
      const counts = countsOf(stats)
      const { hit, miss, stale, error, l2Errors } = countsSince(countsBefore, counts)
      countsBefore = counts
      const lookups = hit + stale + miss
      // At most one interval: while Redis is slow or frozen (when the charts matter most) points keep
      // coming on time, without the memory figure.
      const redisMemory = (await valueWithin(health(), intervalMs))?.redis.usedMemory
      const point: HistoryPoint = {
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
        l2Errors,
        circuit: stats.l2 ? CIRCUIT[stats.l2.circuit] : null,
      }
      points.push(point)
      if (points.length > capacity) points.splice(0, points.length - capacity)
      // After close() the instance has withdrawn from the shared list: a late point must not re-enter it.
      if (!closed) await share?.publish(instance, point)
    } finally {
      sampling = false
    }
  }
  const timer = setInterval(() => void sample(), intervalMs)
  timer.unref()

  return {
    instance,
    intervalMs,
    windowMs,
    shared: share !== undefined,
    points: () => points.slice(),
    async allSeries() {
      const own: InstanceSeries = { instance, self: true, points: points.slice() }
      if (!share) return [own]
      const others = (await share.live()).filter((id) => id !== instance)
      const series = await Promise.all(
        others.map(async (id) => ({ instance: id, self: false, points: await share.read(id) })),
      )
      return [own, ...series.filter((s) => s.points.length > 0)]
    },
    async seriesOf(id) {
      if (id === instance) return points.slice()
      if (!share || !(await share.live()).includes(id)) return undefined
      return share.read(id)
    },
    async close() {
      closed = true
      clearInterval(timer)
      stopListening()
      await share?.remove(instance)
    },
  }
}

type Counts = { hit: number; miss: number; stale: number; error: number; l2Errors: number }

/** The engine's counters the history follows. */
function countsOf(stats: CacheStats): Counts {
  const { hits, misses, staleHits, errors } = stats
  return { hit: hits, miss: misses, stale: staleHits, error: errors, l2Errors: stats.l2?.errors ?? 0 }
}

/** What was counted between two readings; a counter that went down was reset (resetStats()) in between. */
function countsSince(before: Counts, now: Counts): Counts {
  const since = (name: keyof Counts) => (now[name] >= before[name] ? now[name] - before[name] : now[name])
  return {
    hit: since('hit'),
    miss: since('miss'),
    stale: since('stale'),
    error: since('error'),
    l2Errors: since('l2Errors'),
  }
}

function rate(count: number, seconds: number): number {
  return Math.round((count / seconds) * 100) / 100
}
