import { setTimeout as sleep } from 'node:timers/promises'
import type { Cluster } from 'ioredis'
import { type Logger, pino } from 'pino'
import { adviseOnOptions, adviseOnRedis, giveAdvice, resolveAdvisor } from './core/advisor.js'
import { Cache } from './core/cache.js'
import { createCodec } from './core/codec/envelope.js'
import { Emitter } from './core/emitter.js'
import { Engine } from './core/engine.js'
import { type CacheOptions, type ResolvedOptions, resolveOptions } from './core/options.js'
import { PendingInvalidations } from './core/pending-invalidations.js'
import { race } from './core/timeouts.js'
import { traceCacheMethods } from './core/tracing.js'
import { TtlPolicy } from './core/ttl-policy.js'
import { registerEngineRedis } from './engine-redis.js'
import { Bus } from './sync/bus.js'
import { DistributedLock } from './sync/lock.js'
import { Tracking } from './sync/tracking.js'
import { MemoryTier } from './tiers/memory-tier.js'
import { connectRedis, type RedisConnection } from './tiers/redis/client.js'
import { readClusterState } from './tiers/redis/cluster-state.js'
import { L2Guard } from './tiers/redis/guard.js'
import { RedisTier } from './tiers/redis/redis-tier.js'
import { readRedisSettings } from './tiers/redis/settings.js'

/** How long close() waits for background writes before closing connections anyway. */
const CLOSE_DRAIN_MS = 5_000
/** Tries of the advisor to read Redis's settings, and the pause between them. */
const ADVISOR_ATTEMPTS = 3
const ADVISOR_RETRY_MS = 500
/** Redis takes a value if it compresses below l2.maxValueBytes; JSON rarely compresses better than 4×. */
const COMPRESSION_ALLOWANCE = 4

/**
 * Creates a cache: L1 in memory, L2 on Redis (when `redis` is given), stampede protection,
 * fail-safe, tags, invalidation across instances. Options are validated here, once.
 */
export function createCache(options: CacheOptions = {}): Cache {
  traceCacheMethods(Cache.prototype)
  const resolved = resolveOptions(options)
  const advisor = resolveAdvisor(options.advisor)
  const logger = createLogger(options.logger)
  const emitter = new Emitter((error) => logger.error({ err: error }, 'cachet: an event listener threw'))
  let connection: RedisConnection | undefined
  let guard: L2Guard | undefined

  if (options.redis) {
    connection = connectRedis(options.redis, {
      timeoutMs: resolved.l2.timeoutMs,
      corkPerTick: true,
      onEvent: (state, error) => onRedisEvent(engine, state, error),
    })
    guard = new L2Guard({
      timeoutMs: resolved.l2.timeoutMs,
      breaker: resolved.l2.breaker,
      onStateChange: (state) => {
        logger.warn({ state }, `cachet: redis circuit ${state}`)
        emitter.emit('circuit', { state })
      },
    })
  }

  const engine: Engine = new Engine({
    options: resolved,
    codec: createCodec({
      serializer: options.serializer ?? 'json',
      compression: resolved.compression,
      maxCompressedBytes: resolved.l2.maxValueBytes,
      maxSerializedBytes: fitsSomewhereUpTo(resolved, connection !== undefined),
    }),
    policy: new TtlPolicy(resolved),
    emitter,
    logger,
    l1: resolved.l1 ? new MemoryTier(resolved.l1) : undefined,
    l2: connection && guard ? new RedisTier(connection, guard, { prefix: resolved.prefix }) : undefined,
    lock:
      connection && guard && resolved.lock
        ? new DistributedLock(connection.client, guard, resolved.prefix, resolved.lock.ttlMs)
        : undefined,
  })
  engine.pending = new PendingInvalidations(engine)
  if (connection?.isCluster) {
    const cluster = connection.client as Cluster
    engine.clusterState = () => readClusterState(cluster, resolved.l2.timeoutMs)
  }
  if (guard) engine.circuitState = () => guard.state
  if (connection && guard) registerEngineRedis(engine, { connection, guard })
  if (connection) startInvalidation(engine, connection, resolved)
  if (!resolved.l1 && !connection)
    logger.warn('cachet: neither L1 nor Redis is enabled: nothing will be cached')
  if (advisor) startAdvisor(engine, connection, advisor.ignore)

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      await race(engine.drain(), CLOSE_DRAIN_MS)
      await engine.pending?.flush()
      engine.pending?.close()
      engine.closed = true
      engine.lock?.close()
      await engine.tracking?.close()
      await engine.bus?.close()
      await connection?.close()
    })()
    return closing
  }
  return new Cache(engine, '', close)
}

/**
 * Advice on the options once the caller could listen (next turn of the event loop), and on the Redis
 * server's settings once it is first ready (docs/advisor.md).
 */
function startAdvisor(engine: Engine, connection: RedisConnection | undefined, ignore: ReadonlySet<string>) {
  const options = engine.options
  setImmediate(() => giveAdvice(engine, adviseOnOptions({ options, hasRedis: !!connection }), ignore))
  if (!connection) return
  const check = async () => {
    // The first commands after a connection can outlast a short l2.timeout on a busy host: try again.
    for (let attempt = 1; !engine.closed; attempt++) {
      try {
        const settings = await readRedisSettings(connection.client, options.l2.timeoutMs)
        if (settings && !engine.closed) giveAdvice(engine, adviseOnRedis(settings), ignore)
        return
      } catch (error) {
        if (attempt === ADVISOR_ATTEMPTS) throw error
        await sleep(ADVISOR_RETRY_MS, undefined, { ref: false })
      }
    }
  }
  if (connection.client.status === 'ready') setImmediate(() => engine.track(check()))
  else connection.client.once('ready', () => engine.track(check()))
}

/**
 * The sources that keep L1 coherent across instances (l1.invalidation): Redis' tracking and/or the
 * bus; the bus takes over where Redis refuses tracking, unless `bus: false`.
 */
function startInvalidation(engine: Engine, connection: RedisConnection, resolved: ResolvedOptions): void {
  const invalidation = resolved.l1 ? resolved.l1.invalidation : 'bus'
  if (resolved.bus && invalidation !== 'tracking') startBus(engine, connection)
  if (!resolved.l1 || invalidation === 'bus') return
  const tracking = new Tracking({
    connection,
    prefix: resolved.prefix,
    onMessage: (message) => engine.onBusMessage(message),
    onOwnWrites: (keys) => engine.onOwnWrites(keys),
    onGap: (reason) => engine.onBusGap(reason),
    onRefused: () => {
      // Invalidations after the refusal are not reported: what L1 holds from then on is suspect.
      engine.onBusGap('Redis refused CLIENT TRACKING after a reconnect')
      trackingRefused(engine, connection, tracking, resolved)
    },
  })
  engine.tracking = tracking
  const started = tracking.start().then((state) => {
    if (state === 'on') {
      // What L1 cached before tracking was on may have missed an invalidation. With the bus on, its
      // own start marks L1 suspect once (writes by cachet instances); marking it again for the few
      // milliseconds tracking takes longer would send the first hits of every new instance to Redis.
      if (!engine.bus) engine.l1?.markSuspect(Date.now())
      engine.logger.info('cachet: L1 invalidation by Redis tracking is on')
    } else if (state === 'refused') trackingRefused(engine, connection, tracking, resolved)
  })
  engine.track(started)
}

/** Redis refused tracking: the bus takes over unless `bus: false`; one warning says which. */
function trackingRefused(
  engine: Engine,
  connection: RedisConnection,
  tracking: Tracking,
  resolved: ResolvedOptions,
): void {
  if (resolved.bus && !engine.bus) startBus(engine, connection)
  engine.logger.warn(
    { reason: tracking.refusal },
    engine.bus
      ? 'cachet: Redis refused CLIENT TRACKING; L1 invalidation relies on the bus'
      : 'cachet: Redis refused CLIENT TRACKING and the bus is off: L1 copies are not invalidated across instances',
  )
}

function startBus(engine: Engine, connection: RedisConnection): void {
  const bus = new Bus({
    connection,
    prefix: engine.options.prefix,
    timeoutMs: engine.options.l2.timeoutMs,
    onMessage: (message) => engine.onBusMessage(message),
    onGap: (reason) => engine.onBusGap(reason),
  })
  engine.bus = bus
  // What L1 cached before the subscription was in place may have missed an invalidation.
  engine.track(bus.start().then(() => engine.l1?.markSuspect(Date.now())))
}

function createLogger(option: Logger | false | undefined): Logger {
  if (option === false) return pino({ enabled: false })
  return option ?? pino({ name: 'cachet', level: process.env.LOG_LEVEL ?? 'warn' })
}

function onRedisEvent(engine: Engine, state: string, error?: Error): void {
  logRedisEvent(engine, state, error)
  if (state === 'ready') {
    engine.redisState.connected = true
    engine.redisState.lastSeen = Date.now()
    void engine.pending?.flush()
  } else if (state === 'close' || state === 'end') {
    engine.redisState.connected = false
  }
  if (engine.emitter.has('redis')) engine.emitter.emit('redis', { state: state as 'ready', error })
}

/**
 * One warn line per change (each distinct error while Redis is unreachable, the connection back after
 * one), without the stack: a Redis that stays down fails every reconnect attempt of each connection
 * with the same few errors, and those repeats, with their stacks, go to debug.
 */
function logRedisEvent(engine: Engine, state: string, error?: Error): void {
  const warned = engine.redisState.warned
  if (error && !warned.has(error.message)) {
    warned.add(error.message)
    engine.logger.warn({ state }, `cachet: redis ${state}: ${error.message}`)
  } else if (state === 'ready' && warned.size > 0) {
    warned.clear()
    engine.logger.warn({ state }, 'cachet: redis ready again')
  }
  engine.logger.debug({ state, err: error }, `cachet: redis ${state}`)
}

/**
 * The largest serialised value either tier may take: L1 compares a value's decoded size with
 * l1.maxEntryBytes, Redis its compressed size with l2.maxValueBytes. A larger value is refused before
 * it is serialised and compressed, so a huge value cannot stall the event loop (docs/architecture.md).
 */
function fitsSomewhereUpTo(options: ResolvedOptions, hasL2: boolean): number {
  const l1 = options.l1 ? options.l1.maxEntryBytes : 0
  const l2 = hasL2 ? options.l2.maxValueBytes * (options.compression ? COMPRESSION_ALLOWANCE : 1) : 0
  return Math.max(l1, l2)
}
