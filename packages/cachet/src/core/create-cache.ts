import type { Cluster } from 'ioredis'
import { type Logger, pino } from 'pino'
import { Bus } from '../sync/bus.js'
import { DistributedLock } from '../sync/lock.js'
import { MemoryTier } from '../tiers/memory-tier.js'
import { connectRedis, type RedisConnection } from '../tiers/redis/client.js'
import { L2Guard } from '../tiers/redis/guard.js'
import { RedisTier } from '../tiers/redis/redis-tier.js'
import { Cache } from './cache.js'
import { createCodec } from './codec/envelope.js'
import { Emitter } from './emitter.js'
import { Engine } from './engine.js'
import { watchCluster } from './health.js'
import { type CacheOptions, type ResolvedOptions, resolveOptions } from './options.js'
import { PendingInvalidations } from './pending-invalidations.js'
import { TtlPolicy } from './ttl-policy.js'

/** How long close() waits for background writes before closing connections anyway. */
const CLOSE_DRAIN_MS = 5_000
/** Redis takes a value if it compresses below l2.maxValueBytes; JSON rarely compresses better than 4×. */
const COMPRESSION_ALLOWANCE = 4

/**
 * Creates a cache: L1 in memory, L2 on Redis (when `redis` is given), stampede protection,
 * fail-safe, tags, invalidation across instances. Options are validated here, once.
 */
export function createCache(options: CacheOptions = {}): Cache {
  const resolved = resolveOptions(options)
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
        ? new DistributedLock(connection.client, guard, resolved.prefix)
        : undefined,
  })
  engine.pending = new PendingInvalidations(engine)
  if (connection?.isCluster) watchCluster(engine, connection.client as Cluster, resolved.l2.timeoutMs)
  if (guard) engine.circuitState = () => guard.state
  if (connection && resolved.bus) {
    const bus = new Bus({
      connection,
      prefix: resolved.prefix,
      timeoutMs: resolved.l2.timeoutMs,
      onMessage: (message) => engine.onBusMessage(message),
      onGap: (reason) => engine.onBusGap(reason),
    })
    engine.bus = bus
    // What L1 cached before the subscription was in place may have missed an invalidation.
    engine.track(bus.start().then(() => engine.l1?.markSuspect(Date.now())))
  }
  if (!resolved.l1 && !connection)
    logger.warn('cachet: neither L1 nor Redis is enabled: nothing will be cached')

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      await Promise.race([
        engine.drain(),
        new Promise((resolve) => setTimeout(resolve, CLOSE_DRAIN_MS).unref()),
      ])
      await engine.pending?.flush()
      engine.pending?.close()
      engine.closed = true
      await engine.bus?.close()
      await connection?.close()
    })()
    return closing
  }
  return new Cache(engine, '', close)
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
