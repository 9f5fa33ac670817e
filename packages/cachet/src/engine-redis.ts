import type { CacheApi } from './core/cache-api.js'
import type { Engine } from './core/engine.js'
import { engineOf } from './core/engine-of.js'
import type { RedisConnection } from './tiers/redis/client.js'
import type { L2Guard } from './tiers/redis/guard.js'

/** The Redis connection of an engine and the guard (deadline + circuit breaker) its L2 calls go through. */
export interface EngineRedis {
  connection: RedisConnection
  guard: L2Guard
}

const parts = new WeakMap<Engine, EngineRedis>()

/** Called by createCache(): lets cachet's add-ons share the engine's connection and circuit breaker. */
export function registerEngineRedis(engine: Engine, redis: EngineRedis): void {
  parts.set(engine, redis)
}

/** The Redis parts behind a cache made by createCache(); undefined for an L1-only cache. */
export function engineRedisOf(cache: CacheApi): EngineRedis | undefined {
  return parts.get(engineOf(cache))
}
