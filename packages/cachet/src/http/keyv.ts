import { EventEmitter } from 'node:events'
import { type CacheApi, type Duration, escapeGlob, InvalidOptionError, toMs } from '../index.js'

/** Options of createKeyvStore(). */
export interface KeyvStoreOptions {
  /** Freshness of values Keyv sets without a ttl. @default the cache's ttl */
  ttl?: Duration
}

/** Keyv's serialized form of a value: a string (Keyv serializes before it calls the store). */
type Stored = string

/**
 * A Keyv storage adapter (keyv 5 `KeyvStoreAdapter`) over a cachet engine: cache-manager and
 * @nestjs/cache-manager get cachet's L1 + Redis tiers, fail-safe and stampede protection by
 * changing one line: `new Keyv({ store: createKeyvStore(cache) })`. Keys live under the cache's
 * prefix as `${keyvNamespace}:${key}`; clear() only deletes the Keyv namespace's keys.
 */
export class CachetKeyvStore extends EventEmitter {
  /** Keyv reads and writes this (its serializer options live here). */
  opts: Record<string, unknown>
  /** Set by Keyv: the namespace its keys are prefixed with. */
  namespace?: string
  readonly #cache: CacheApi
  readonly #ttlMs?: number

  constructor(cache: CacheApi, options: KeyvStoreOptions = {}) {
    super()
    if (!cache || typeof cache.getOrSet !== 'function') {
      throw new InvalidOptionError('createKeyvStore(cache) needs a cache created by createCache()')
    }
    this.#cache = cache
    this.#ttlMs = options.ttl === undefined ? undefined : toMs(options.ttl, 'ttl')
    this.opts = { dialect: 'cachet' }
  }

  async get<Value>(key: string): Promise<Value | undefined> {
    return this.#guard(() => this.#cache.get<Value>(key), undefined)
  }

  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    return this.#guard(
      () => this.#cache.getMany<Value>(keys),
      keys.map(() => undefined),
    )
  }

  async set(key: string, value: Stored, ttl?: number): Promise<boolean> {
    return this.#guard(() => this.#cache.set(key, value, this.#ttl(ttl)), false)
  }

  async setMany(entries: Array<{ key: string; value: Stored; ttl?: number }>): Promise<void> {
    await this.#guard(
      () => this.#cache.setMany(entries.map(({ key, value, ttl }) => ({ key, value, ...this.#ttl(ttl) }))),
      [],
    )
  }

  async delete(key: string): Promise<boolean> {
    return this.#guard(() => this.#cache.delete(key), false)
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    return this.#guard(async () => (await this.#cache.deleteMany(keys)) > 0, false)
  }

  async has(key: string): Promise<boolean> {
    return this.#guard(() => this.#cache.has(key), false)
  }

  async hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.has(key)))
  }

  /** Deletes this Keyv namespace's keys, or every key of the cache view when Keyv has no namespace. */
  async clear(): Promise<void> {
    await this.#guard(
      () =>
        this.namespace ? this.#cache.deleteByPattern(`${escapeGlob(this.namespace)}:*`) : this.#cache.clear(),
      0,
    )
  }

  /** The engine is owned by the application; Keyv's disconnect() leaves it open. */
  async disconnect(): Promise<void> {}

  #ttl(ttl: number | undefined): { ttl?: number } {
    // Keyv passes milliseconds; 0 or undefined means "no ttl of its own".
    const ms = typeof ttl === 'number' && ttl > 0 ? ttl : this.#ttlMs
    return ms === undefined ? {} : { ttl: ms }
  }

  // Keyv's contract: failures become 'error' events and a neutral result, never a rejection.
  async #guard<T>(run: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await run()
    } catch (error) {
      if (this.listenerCount('error') > 0) this.emit('error', error)
      return fallback
    }
  }
}

/** A Keyv storage adapter over a cachet engine (see CachetKeyvStore). */
export function createKeyvStore(cache: CacheApi, options?: KeyvStoreOptions): CachetKeyvStore {
  return new CachetKeyvStore(cache, options)
}
