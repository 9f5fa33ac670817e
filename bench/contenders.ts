import { EventEmitter } from 'node:events'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { type Cache, type CacheOptions, createCache } from 'cachet'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { LRUCache } from 'lru-cache'

/** Every contender keeps entries this long: nothing expires during a run. */
export const TTL_MS = 10 * 60_000

/** A plain ioredis client: what "raw ioredis" means in every scenario. */
export function rawClient(port: number): Redis {
  return new Redis({ host: '127.0.0.1', port })
}

/**
 * cachet with defaults (L1 + L2, lock, bus) unless overridden, entries fresh for TTL_MS, on the
 * connection it opens itself from a URL, with its own client settings: what a user who passes a URL
 * runs. `port` false: no Redis.
 */
export function cachet(port: number | false, options: CacheOptions = {}): Cache {
  const redis = port === false ? false : `redis://127.0.0.1:${port}`
  return createCache({ redis, ttl: TTL_MS, logger: false, ...options })
}

/**
 * Waits for cachet's background L2 writes: commands on one connection complete in order, so two reads
 * answered on the cache's connection mean every write sent before them (and the lock releases sent
 * when those completed) is done.
 */
export async function settled(cache: Cache): Promise<void> {
  await cache.has('bench:settled')
  await cache.has('bench:settled')
}

/** The raw limit of an L1 hit: a bare async getOrSet over lru-cache, no envelope, no stats, no copy. */
export function bareLru() {
  const lru = new LRUCache<string, object>({ max: 10_000 })
  return async function getOrSet<T extends object>(key: string, loader: () => Promise<T> | T): Promise<T> {
    const hit = lru.get(key)
    if (hit !== undefined) return hit as T
    const value = await loader()
    lru.set(key, value)
    return value
  }
}

/** bentocache with a memory L1 and/or a Redis L2 (its own ioredis connection). */
export function bento(port: number, layers: { l1: boolean; l2: boolean }) {
  let store = bentostore()
  if (layers.l1) store = store.useL1Layer(memoryDriver({ maxSize: '64mb' }))
  if (layers.l2) store = store.useL2Layer(redisDriver({ connection: { host: '127.0.0.1', port } }))
  return new BentoCache({ default: 'bench', ttl: TTL_MS, stores: { bench: store } })
}

/**
 * A minimal Keyv store over ioredis (the shape @keyv/redis has: GET, SET PX, DEL), so cache-manager
 * can be measured on Redis too; @keyv/redis itself is not a dependency of cachet.
 */
class IoredisKeyvStore extends EventEmitter {
  opts = {}
  namespace?: string
  constructor(private readonly client: Redis) {
    super()
  }
  async get(key: string): Promise<any> {
    return (await this.client.get(key)) ?? undefined
  }
  async set(key: string, value: unknown, ttl?: number): Promise<void> {
    const text = typeof value === 'string' ? value : JSON.stringify(value)
    if (ttl) await this.client.set(key, text, 'PX', ttl)
    else await this.client.set(key, text)
  }
  async delete(key: string): Promise<boolean> {
    return (await this.client.del(key)) > 0
  }
  async clear(): Promise<void> {}
}

/** cache-manager 7 over Keyv: in memory (Keyv's Map), or on Redis through the adapter above. */
export function cacheManager(redis?: Redis) {
  const keyv = redis ? new Keyv({ store: new IoredisKeyvStore(redis) }) : new Keyv()
  return createCacheManager({ stores: [keyv], ttl: TTL_MS })
}
