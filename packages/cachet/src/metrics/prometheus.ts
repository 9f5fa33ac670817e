import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import type { CacheApi } from '../core/cache-api.js'
import { namespaceOf } from '../core/keys.js'
import { listenAll } from '../core/listen-all.js'
import { requirePeer } from '../core/peer.js'
import { reuseFor } from '../core/reuse.js'
import { valueWithin } from '../core/timeouts.js'
import { createLabelCap } from './label-cap.js'

const {
  Counter,
  Gauge,
  Histogram,
  Registry: PromRegistry,
} = requirePeer<typeof import('prom-client')>('prom-client', 'cachet/prometheus')

export { registerWriteBehindMetrics } from './write-behind-metrics.js'

/** Options of createMetrics(). */
export interface MetricsOptions {
  /** Where the metrics are registered. @default a new Registry */
  registry?: Registry
  /** Prefix of every metric name. @default 'cachet_' */
  prefix?: string
  /** Distinct namespace label values before 'other'. @default 50 */
  maxNamespaces?: number
  /** Deadline of the Redis reads done on a scrape, in ms. @default 1000 */
  timeoutMs?: number
}

/** The cache's Prometheus metrics. */
export interface CachetMetrics {
  readonly registry: Registry
  readonly contentType: string
  /** The text exposition of the registry. */
  metrics(): Promise<string>
  /** Stops listening to the cache's events. */
  close(): void
}

const SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Reads span L1 hits (microseconds) to Redis reads that waited on a stampede lock (seconds). */
const READ_BUCKETS = [
  0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]
const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const
/** Scrapes within a second share one read of Redis: a flood of scrapes costs one round of commands a second. */
const SNAPSHOT_REUSE_MS = 1000

/**
 * Prometheus metrics for one cache: counters fed by its events (per namespace = first key segment,
 * and per tier), read-latency, loader and lock-wait histograms, a lock-acquisition counter, and gauges read on scrape from cache.stats(),
 * cache.health() and Redis INFO.
 */
export function createMetrics(cache: CacheApi, options: MetricsOptions = {}): CachetMetrics {
  const registry = options.registry ?? new PromRegistry()
  const p = options.prefix ?? 'cachet_'
  const timeoutMs = options.timeoutMs ?? 1000
  const ns = createLabelCap(options.maxNamespaces ?? 50)
  const small = createLabelCap(20)
  const registers = [registry]

  const hits = new Counter({
    name: `${p}hits_total`,
    help: 'Cache hits, by namespace and tier (l1 = in process, l2 = Redis)',
    labelNames: ['namespace', 'tier'],
    registers,
  })
  const readDuration = new Histogram({
    name: `${p}read_duration_seconds`,
    help: 'Cache read latency, by namespace and tier (l1 and l2 hits; miss = the lookup before the loader)',
    labelNames: ['namespace', 'tier'],
    buckets: READ_BUCKETS,
    registers,
  })
  const misses = new Counter({
    name: `${p}misses_total`,
    help: 'Cache misses, by namespace',
    labelNames: ['namespace'],
    registers,
  })
  const stale = new Counter({
    name: `${p}stale_hits_total`,
    help: 'Stale values served (swr, fail-safe, soft-timeout), by namespace',
    labelNames: ['namespace', 'reason'],
    registers,
  })
  const invalid = new Counter({
    name: `${p}invalid_values_total`,
    help: 'Cached values a schema refused, by namespace and result (migrated, or miss)',
    labelNames: ['namespace', 'result'],
    registers,
  })
  const errors = new Counter({
    name: `${p}errors_total`,
    help: 'Errors inside the cache (Redis failures, corrupt entries), by operation',
    labelNames: ['operation'],
    registers,
  })
  const retries = new Counter({
    name: `${p}l2_retries_total`,
    help: 'Redis calls repeated after a transient fault, by operation and result (ok, failed; no-budget: a repeat would not have ended within the soft timeout)',
    labelNames: ['operation', 'result'],
    registers,
  })
  const sets = new Counter({
    name: `${p}sets_total`,
    help: 'Entries written, by namespace',
    labelNames: ['namespace'],
    registers,
  })
  const loads = new Counter({
    name: `${p}loads_total`,
    help: 'Loader calls, by namespace and result',
    labelNames: ['namespace', 'result'],
    registers,
  })
  const loaderDuration = new Histogram({
    name: `${p}loader_duration_seconds`,
    help: 'Loader (origin) duration, by namespace',
    labelNames: ['namespace'],
    buckets: SECONDS_BUCKETS,
    registers,
  })
  const lockWaits = new Counter({
    name: `${p}lock_waits_total`,
    help: 'Callers that waited for another process to load a key (stampede lock), by namespace',
    labelNames: ['namespace'],
    registers,
  })
  const lockAcquisitions = new Counter({
    name: `${p}lock_acquisitions_total`,
    help: 'Callers that reached the stampede lock, by namespace and result (acquired, waited, skipped)',
    labelNames: ['namespace', 'result'],
    registers,
  })
  const lockWaitDuration = new Histogram({
    name: `${p}lock_wait_duration_seconds`,
    help: 'Time spent waiting on the stampede lock',
    buckets: SECONDS_BUCKETS,
    registers,
  })
  const invalidations = new Counter({
    name: `${p}invalidations_total`,
    help: 'Invalidation calls, by kind (keys, tags, pattern)',
    labelNames: ['kind'],
    registers,
  })
  const invalidatedKeys = new Counter({
    name: `${p}invalidated_keys_total`,
    help: 'Entries removed by invalidations, by kind',
    labelNames: ['kind'],
    registers,
  })
  const circuitChanges = new Counter({
    name: `${p}circuit_transitions_total`,
    help: 'Redis circuit breaker transitions, by new state',
    labelNames: ['state'],
    registers,
  })
  const l1Flushes = new Counter({
    name: `${p}l1_flushes_total`,
    help: 'Bus gaps that made all of L1 suspect (reconnects, missed PINGs), by reason',
    labelNames: ['reason'],
    registers,
  })

  const read = reuseFor(SNAPSHOT_REUSE_MS, async () => {
    const [health, info] = await Promise.all([
      valueWithin(cache.health(), timeoutMs),
      valueWithin(cache.redisFigures(), timeoutMs),
    ])
    return { health, info }
  })
  const gauge = (name: string, help: string, value: () => Promise<number | undefined> | number | undefined) =>
    new Gauge({
      name: `${p}${name}`,
      help,
      registers,
      async collect() {
        const current = await value()
        // No figure (Redis down, L1 off): NaN, not a false 0 that would look like an empty Redis.
        this.set(current === undefined || !Number.isFinite(current) ? Number.NaN : current)
      },
    })

  gauge(
    'hit_ratio',
    'Hits / (hits + misses) since start; stale hits count as hits',
    () => cache.stats().hitRate,
  )
  gauge('cache_operation_avg_seconds', 'Average time of a get answered from the cache', () => {
    return cache.stats().cacheMs / 1000
  })
  gauge('loader_avg_seconds', 'Average loader duration', () => cache.stats().loaderMs / 1000)
  gauge('l1_entries', 'Entries in the in-process tier', () => cache.stats().l1?.size)
  gauge('l1_bytes', 'Bytes held by the in-process tier', () => cache.stats().l1?.bytes)
  gauge('l1_max_bytes', 'Byte bound of the in-process tier', () => cache.stats().l1?.maxBytes)
  gauge('circuit_state', 'Redis circuit breaker: 0 closed, 1 half-open, 2 open', () => {
    const circuit = cache.stats().l2?.circuit
    return circuit === undefined ? undefined : CIRCUIT_VALUE[circuit]
  })
  gauge('redis_up', '1 when Redis answers the health check, 0 when not', async () => {
    const { health } = await read()
    if (!health?.redis.configured && health) return undefined
    return health?.redis.connected ? 1 : 0
  })
  gauge('redis_latency_seconds', 'Redis PING round trip', async () => {
    const latency = (await read()).health?.redis.latencyMs
    return latency === undefined ? undefined : latency / 1000
  })
  gauge('redis_memory_used_bytes', 'Redis used_memory', async () => (await read()).health?.redis.usedMemory)
  gauge('redis_memory_max_bytes', 'Redis maxmemory (0 = unbounded)', async () => {
    return (await read()).health?.redis.maxMemory
  })
  gauge('redis_keys', 'Keys in the Redis database (DBSIZE)', async () => (await read()).info?.dbSize)
  gauge('redis_evicted_keys', 'Keys Redis evicted since it started (INFO evicted_keys)', async () => {
    return (await read()).info?.evictedKeys
  })
  gauge(
    'redis_connected_clients',
    'Redis connected_clients',
    async () => (await read()).info?.connectedClients,
  )
  gauge('redis_ops_per_second', 'Redis instantaneous_ops_per_sec', async () => (await read()).info?.opsPerSec)

  const stopListening = listenAll(cache, {
    hit: ({ key, tier, durationMs }) => {
      const namespace = ns(namespaceOf(key))
      hits.inc({ namespace, tier })
      if (durationMs !== undefined) readDuration.observe({ namespace, tier }, durationMs / 1000)
    },
    miss: ({ key, durationMs }) => {
      const namespace = ns(namespaceOf(key))
      misses.inc({ namespace })
      if (durationMs !== undefined) readDuration.observe({ namespace, tier: 'miss' }, durationMs / 1000)
    },
    stale: ({ key, reason }) => stale.inc({ namespace: ns(namespaceOf(key)), reason: small(reason) }),
    invalid: ({ key, migrated }) =>
      invalid.inc({ namespace: ns(namespaceOf(key)), result: migrated ? 'migrated' : 'miss' }),
    error: ({ operation }) => errors.inc({ operation: small(operation) }),
    retry: ({ operation, result }) => retries.inc({ operation: small(operation), result }),
    set: ({ key }) => sets.inc({ namespace: ns(namespaceOf(key)) }),
    load: ({ key, durationMs, ok }) => {
      const namespace = ns(namespaceOf(key))
      loads.inc({ namespace, result: ok ? 'ok' : 'error' })
      loaderDuration.observe({ namespace }, durationMs / 1000)
    },
    'lock-wait': ({ key, waitedMs }) => {
      lockWaits.inc({ namespace: ns(namespaceOf(key)) })
      lockWaitDuration.observe(waitedMs / 1000)
    },
    lock: ({ key, result }) => lockAcquisitions.inc({ namespace: ns(namespaceOf(key)), result }),
    invalidate: ({ keys, tags, count }) => {
      const kind = keys ? 'keys' : tags ? 'tags' : 'pattern'
      invalidations.inc({ kind })
      if (count > 0) invalidatedKeys.inc({ kind }, count)
    },
    circuit: ({ state }) => circuitChanges.inc({ state }),
    'l1-flush': ({ reason }) => l1Flushes.inc({ reason: small(reason.split(/[\s:]/, 1)[0]) }),
  })

  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    close: stopListening,
  }
}

/** A Fastify (or any `(request, reply)`) handler answering the text exposition. */
export function metricsHandler(metrics: CachetMetrics) {
  return async (_request: FastifyRequest, reply: FastifyReply) => {
    const body = await metrics.metrics()
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(body)
  }
}

/** Options of metricsPlugin. */
export interface MetricsPluginOptions {
  metrics: CachetMetrics
  /** @default '/metrics' */
  path?: string
  /** When set, scrapes need `Authorization: Bearer <token>` (compared in constant time). */
  token?: string
}

const digest = (text: string) => createHash('sha256').update(text).digest()

/** Serves GET `path` (default /metrics) with the cache's metrics. */
export const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, options) => {
  const handler = metricsHandler(options.metrics)
  const expected = options.token ? digest(`Bearer ${options.token}`) : undefined
  app.get(options.path ?? '/metrics', async (request, reply) => {
    if (expected && !timingSafeEqual(digest(request.headers.authorization ?? ''), expected)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ success: false, message: 'unauthorized' })
    }
    return handler(request, reply)
  })
}
