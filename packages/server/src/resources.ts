import { randomBytes } from 'node:crypto'
import type { CacheApi } from 'cachet'
import { createCache, SEED_TTL_RULES } from 'cachet'
import { createWarmupRegistry, type WarmupRegistry } from 'cachet/admin'
import { connectRedis, type RedisConnection } from 'cachet/redis'
import { createQueryCache, type QueryCache } from 'cachet/sql'
import type { Cluster, Redis } from 'ioredis'
import { type Logger, pino } from 'pino'
import type { ServerConfig } from './config.js'
import { type Database, openDatabase } from './database.js'
import { DemoAuth } from './demo-auth.js'
import { seedCatalog } from './demo-catalog-data.js'
import { type SeedResult, seedLogs } from './demo-data.js'
import { seedShop } from './demo-shop-data.js'
import { seedUsers } from './demo-user-data.js'
import { countingQueryable } from './load-tracker.js'
import { openProductViews, type ProductViewCounter } from './product-views.js'
import { findRedisServer, type RedisProcess, spawnRedis } from './redis-process.js'
import { openUserSync, type UserSync } from './user-sync.js'

/**
 * Loads the demo's cache runs at once. PGlite runs one statement at a time on the main thread, so
 * more loads at once only queue inside it while holding the event loop (docs/architecture.md).
 */
export const DEMO_MAX_CONCURRENT_LOADS = 4

/** Where the cache's Redis came from. */
export type RedisSource =
  | { kind: 'external'; url: string }
  | { kind: 'embedded'; url: string; process: RedisProcess; maxMemory: string }
  | { kind: 'absent'; reason: string }

/**
 * Where the audit log and the event streams live: a Redis that never evicts, apart from the cache's
 * (which evicts under memory pressure). `shared`: the cache's own Redis, because REDIS_URL was given
 * without CACHET_DURABLE_REDIS_URL (or no durable redis-server could be spawned); eviction can then
 * drop audit records and stream entries, and the banner, the log and /health say so.
 */
export type DurableRedisSource =
  | { kind: 'external'; url: string }
  | { kind: 'embedded'; url: string; process: RedisProcess }
  | { kind: 'shared'; url: string; reason: string }
  | { kind: 'absent' }

/** Everything the server opens before it builds the app, and closes after it. */
export interface ServerResources {
  cache: CacheApi
  db: Database
  redis: RedisSource
  durableRedis: DurableRedisSource
  /** A separate client for the admin API's INFO/DBSIZE; absent in L1-only mode. */
  adminRedis?: Redis | Cluster
  /** The client of the audit stream, on the durable Redis; absent without one. */
  auditRedis?: Redis | Cluster
  adminToken: string
  /** True when CACHET_ADMIN_TOKEN was unset and the token was generated (it is printed at start). */
  adminTokenGenerated: boolean
  auth: DemoAuth
  warmers: WarmupRegistry
  /** The `logs` table. */
  seed: SeedResult
  /** The shop tables (rows counts `order_items`) and `user_profiles`. */
  shopSeed: SeedResult
  userSeed: SeedResult
  /** Seed 003's SQL query cache over the demo database (the revenue dashboard, orders). */
  queries: QueryCache
  /** Seed 002's user entity cache and its stream consumer; absent in L1-only mode (they need Redis). */
  userSync?: UserSync
  /** Product view counters written behind to the database; absent without a durable Redis. */
  productViews?: ProductViewCounter
  /** Closes the user sync, the query cache, the cache, the Redis clients, the database, then stops the spawned redis-servers. */
  close(): Promise<void>
}

/** Test and CLI hooks that the environment does not cover. */
export interface ResourceOptions {
  /** PATH used to look for redis-server (an empty string simulates a machine without it). */
  redisSearchPath?: string
  logger?: Logger
}

/** Opens Redis (external, spawned, or none), the cache, and the seeded demo database, in parallel. */
export async function openResources(
  config: ServerConfig,
  options: ResourceOptions = {},
): Promise<ServerResources> {
  const [redisResult, dbResult] = await Promise.allSettled([
    resolveRedisPair(config, options),
    openDemoDatabase(config),
  ])
  if (dbResult.status === 'rejected') {
    // Do not leave a spawned redis-server behind when the database cannot be opened.
    if (redisResult.status === 'fulfilled') await stopSpawned(redisResult.value)
    throw dbResult.reason
  }
  if (redisResult.status === 'rejected') {
    await dbResult.value.db.close().catch(() => {})
    throw redisResult.reason
  }
  const { cache: redis, durable } = redisResult.value
  const { db, seed, shopSeed, userSeed } = dbResult.value
  const logger = options.logger ?? pino({ level: 'silent' })
  if (durable.kind === 'shared')
    logger.warn({ reason: durable.reason }, 'audit log and event streams share the evicting cache Redis')
  const url = redis.kind === 'absent' ? undefined : redis.url
  const durableUrl = durable.kind === 'absent' ? undefined : durable.url
  const cache = createCache({
    redis: url ?? false,
    prefix: 'cache',
    // Seed 004's smart TTL by key prefix (§4.3) for the demo's warm-up modules; HTTP routes carry their own.
    ttlRules: { ...SEED_TTL_RULES, 'config:': '1h', 'users:': '30m' },
    // PGlite runs its queries on the main thread: a query blocks the event loop for tens of ms (more
    // on a busy machine), and a Redis reply that arrives meanwhile is only read afterwards. The default
    // 100 ms deadline would count those as Redis failures and open the circuit; 1 s does not.
    l2: { timeout: '1s' },
    maxConcurrentLoads: DEMO_MAX_CONCURRENT_LOADS,
    logger: options.logger ?? false,
  })
  // Counting the SQL that reaches the database is how the revenue route tells a MISS from a HIT.
  const queries = createQueryCache({ cache, db: countingQueryable(db.driver) })
  let admin: RedisConnection | undefined
  if (url) admin = connectRedis(url, { timeoutMs: 1_000 })
  let audit: RedisConnection | undefined
  if (durableUrl) audit = durableUrl === url ? admin : connectRedis(durableUrl, { timeoutMs: 1_000 })
  const userSync = url && durableUrl ? await openUserSync(cache, durableUrl, db, logger) : undefined
  const productViews = url && durableUrl ? await openProductViews(durableUrl, cache, db, logger) : undefined
  const adminTokenGenerated = !config.adminToken
  return {
    cache,
    db,
    redis,
    durableRedis: durable,
    adminRedis: admin?.client,
    auditRedis: audit?.client,
    adminToken: config.adminToken ?? randomBytes(24).toString('base64url'),
    adminTokenGenerated,
    auth: new DemoAuth(),
    warmers: createWarmupRegistry(),
    seed,
    shopSeed,
    userSeed,
    queries,
    userSync,
    productViews,
    async close() {
      // Each step runs even if an earlier one failed: a stuck cache must not leave redis-server behind.
      // The consumer stops before the database closes: an event it is applying may still load from it.
      const steps = [
        () => userSync?.close(),
        () => productViews?.close(),
        () => queries.close(),
        () => cache.close(),
        () => admin?.close(),
        () => (audit === admin ? undefined : audit?.close()),
        () => db.close(),
      ]
      for (const step of steps)
        await Promise.resolve()
          .then(step)
          .catch(() => {})
      await stopSpawned({ cache: redis, durable })
    },
  }
}

interface RedisPair {
  cache: RedisSource
  durable: DurableRedisSource
}

/** The cache's Redis and the durable one, spawned side by side when no URL names them. */
async function resolveRedisPair(config: ServerConfig, options: ResourceOptions): Promise<RedisPair> {
  const binary =
    config.redisUrl && config.durableRedisUrl
      ? undefined
      : findRedisServer(options.redisSearchPath ?? process.env.PATH)
  const [cache, durable] = await Promise.all([
    config.redisUrl ? ({ kind: 'external', url: config.redisUrl } as const) : spawnCacheRedis(binary, config),
    config.durableRedisUrl || config.redisUrl || !binary
      ? undefined
      : spawnRedis({ binary, durable: true }).catch((error: Error) => error),
  ])
  if (config.durableRedisUrl) return { cache, durable: { kind: 'external', url: config.durableRedisUrl } }
  if (durable instanceof Error || durable === undefined) {
    if (cache.kind === 'absent') return { cache, durable: { kind: 'absent' } }
    const reason = durable
      ? `the durable redis-server failed to start: ${durable.message}`
      : 'REDIS_URL is set without CACHET_DURABLE_REDIS_URL'
    return { cache, durable: { kind: 'shared', url: cache.url, reason } }
  }
  // Without the cache's Redis there is neither an entity cache nor a stream to keep.
  if (cache.kind === 'absent') {
    await durable.stop()
    return { cache, durable: { kind: 'absent' } }
  }
  return { cache, durable: { kind: 'embedded', url: durable.url, process: durable } }
}

async function spawnCacheRedis(binary: string | undefined, config: ServerConfig): Promise<RedisSource> {
  if (!binary) return { kind: 'absent', reason: 'redis-server was not found on PATH' }
  try {
    const process = await spawnRedis({ binary, maxMemory: config.redisMaxMemory })
    return { kind: 'embedded', url: process.url, process, maxMemory: config.redisMaxMemory }
  } catch (error) {
    return { kind: 'absent', reason: `redis-server failed to start: ${(error as Error).message}` }
  }
}

async function stopSpawned({ cache, durable }: RedisPair): Promise<void> {
  await Promise.all([
    cache.kind === 'embedded' ? cache.process.stop() : undefined,
    durable.kind === 'embedded' ? durable.process.stop() : undefined,
  ])
}

interface DemoDatabase {
  db: Database
  seed: SeedResult
  shopSeed: SeedResult
  userSeed: SeedResult
}

async function openDemoDatabase(config: ServerConfig): Promise<DemoDatabase> {
  const db = await openDatabase(config.databaseUrl)
  try {
    // One after the other: PGlite runs one statement at a time anyway.
    const seed = await seedLogs(db, config.demoRows)
    const shopSeed = await seedShop(db, config.demoOrderItems)
    const userSeed = await seedUsers(db)
    await seedCatalog(db)
    return { db, seed, shopSeed, userSeed }
  } catch (error) {
    await db.close().catch(() => {})
    throw error
  }
}
