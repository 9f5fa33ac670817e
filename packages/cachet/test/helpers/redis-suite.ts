import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { type CacheApi, type CacheOptions, createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from './redis-server.js'

/** What redisSuite() gives a test file. */
export interface RedisSuite {
  /** The file's redis-server (started before its tests, stopped after them). */
  readonly redis: TestRedis
  /** A plain ioredis client on it, to look at what cachet wrote. */
  readonly raw: Redis
  /** A cache on it with a prefix of its own, relaxed Redis deadlines, no logger, then `defaults`, then `overrides`. */
  cache(overrides?: CacheOptions): CacheApi
}

/**
 * The set-up most engine test files share: one redis-server for the file, a raw client, and a cache
 * factory. Deadlines are relaxed (a loaded machine must not turn a slow write into a Redis failure)
 * unless a test gives its own.
 */
export function redisSuite(defaults: CacheOptions = {}, serverArgs: string[] = []): RedisSuite {
  let redis: TestRedis | undefined
  let raw: Redis | undefined
  let caches = 0
  beforeAll(async () => {
    redis = await startRedis(serverArgs)
    raw = new Redis(redis.url)
  })
  afterAll(async () => {
    raw?.disconnect()
    await redis?.stop()
  })
  return {
    get redis() {
      return redis!
    },
    get raw() {
      return raw!
    },
    cache(overrides = {}) {
      return createCache({
        redis: redis!.url,
        prefix: `t${caches++}`,
        logger: false,
        l2: RELAXED_L2,
        ...defaults,
        ...overrides,
      })
    },
  }
}
