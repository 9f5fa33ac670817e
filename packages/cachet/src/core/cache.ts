import { getMany, getOrSetMany, setMany } from './batch.js'
import type {
  BatchLoader,
  CacheApi,
  CacheEvents,
  CacheHealth,
  CacheResult,
  CacheStats,
  KeyDetails,
  KeyInfo,
  Loader,
  RedisFigures,
} from './cache-api.js'
import { checkSignal, untilAborted } from './cancel.js'
import type { Duration } from './duration.js'
import type { Engine } from './engine.js'
import { registerEngine } from './engine-of.js'
import { InvalidKeyError } from './errors.js'
import { getOrSet, getOrSetEntry } from './get-or-set.js'
import { checkHealth } from './health.js'
import { countKeys, inspectKey, listKeys } from './inspect.js'
import {
  clearAll,
  invalidateKeys,
  invalidatePattern,
  invalidateTags,
  type TagInvalidationMode,
} from './invalidation.js'
import { escapeGlob, validateKey, validatePattern, validateTag } from './keys.js'
import {
  type CallContext,
  type CallOptions,
  type GetOptions,
  type ManyLoadOptions,
  type ManyOptions,
  positiveMs,
  resolveCall,
  type SchemaOptions,
  type StoreOptions,
} from './options.js'
import { recordHit, recordMiss, recordStale } from './outcome.js'
import { figuresFrom } from './redis-figures.js'
import { rewriteInPlace } from './rewrite-in-place.js'
import { checkEntry } from './schema.js'
import { callSchema, resolveSchema, type ValueSchema } from './schema-option.js'
import { addTagsTo, countTag, tagKeysPage } from './tag-view.js'
import type { Entry } from './types.js'
import { type WrapOptions, wrap } from './wrap.js'

/**
 * The public engine: what createCache() returns. A namespace is the same engine seen through a key
 * scope (`users:`), sharing tiers, stats and connections.
 */
export class Cache implements CacheApi {
  #engine: Engine
  #scope: string
  #close: () => Promise<void>
  /** The namespace's schema, for calls that give none. */
  #defaults: ValueSchema | undefined
  /** The context of a call made without options, in this view. */
  #defaultCall: CallContext

  constructor(engine: Engine, scope: string, close: () => Promise<void>, defaults?: ValueSchema) {
    this.#engine = engine
    this.#scope = scope
    this.#close = close
    this.#defaults = defaults
    this.#defaultCall = this.#defaults ? resolveCall(engine.options, {}, this.#defaults) : engine.defaultCall
    registerEngine(this, engine)
  }

  get prefix(): string {
    return this.#engine.options.prefix
  }

  /** The key prefix this view adds ('' at the root, 'users:' for namespace('users')). */
  get scope(): string {
    return this.#scope
  }

  getOrSet<T>(key: string, loader: Loader<T>, options?: CallOptions): Promise<T> {
    let call: CallContext
    try {
      call = this.#call(key, loader, options)
    } catch (error) {
      return Promise.reject(error)
    }
    return getOrSet(this.#engine, this.#scope + key, loader, call)
  }

  getOrSetResult<T>(key: string, loader: Loader<T>, options?: CallOptions): Promise<CacheResult<T>> {
    let call: CallContext
    try {
      call = this.#call(key, loader, options)
    } catch (error) {
      return Promise.reject(error)
    }
    return getOrSetEntry(this.#engine, this.#scope + key, loader, call)
  }

  /** Checks a getOrSet call and resolves its options, before anything runs. */
  #call(key: string, loader: unknown, options: CallOptions | undefined): CallContext {
    this.#engine.assertOpen()
    validateKey(key)
    if (typeof loader !== 'function')
      throw new InvalidKeyError(`getOrSet('${key}') needs a loader function`, { key })
    return options === undefined
      ? this.#defaultCall
      : resolveCall(this.#engine.options, options, this.#defaults)
  }

  get<T>(key: string, options: GetOptions<T> = {}): Promise<T | undefined> {
    let read: { scoped: string; signal: AbortSignal | undefined; check: ValueSchema | undefined }
    try {
      read = this.#readCall(this.#key(key), options)
    } catch (error) {
      return Promise.reject(error)
    }
    const lookup = this.#lookup<T>(read.scoped, options.allowStale === true, read.check)
    return read.signal ? untilAborted(lookup, read.signal) : lookup
  }

  /** A read call's keys, signal and schema, checked before anything runs (throws on a bad one). */
  #readCall<K>(scoped: K, options: ManyOptions) {
    return { scoped, signal: checkSignal(options.signal), check: this.#schema(options) }
  }

  /** The schema a read without a loader checks: its own, else the namespace's. */
  #schema(options: SchemaOptions): ValueSchema | undefined {
    return callSchema(options, this.#defaults)
  }

  /** get()'s read, counted once whether or not its caller still waits for it. */
  async #lookup<T>(
    scoped: string,
    allowStale: boolean,
    check: ValueSchema | undefined,
  ): Promise<T | undefined> {
    const startedAt = performance.now()
    let found = await this.#read<T>(scoped)
    // A value the schema refuses (and migrate cannot mend) is a miss.
    if (found && check) {
      const entry = await checkEntry(this.#engine, scoped, check, found.entry)
      found = entry && { entry, tier: found.tier }
    }
    const now = Date.now()
    if (found && now < found.entry.freshUntil) {
      recordHit(this.#engine, scoped, found.tier, startedAt)
      return found.entry.value
    }
    if (found && allowStale && now < found.entry.staleUntil) {
      recordStale(this.#engine, scoped, 'allow-stale')
      return found.entry.value
    }
    recordMiss(this.#engine, scoped, performance.now() - startedAt)
    return undefined
  }

  async set<T>(key: string, value: T, options: StoreOptions = {}): Promise<boolean> {
    const [result] = await setMany(this.#engine, [{ key: this.#key(key), value, ...options }])
    return result!
  }

  async delete(key: string): Promise<boolean> {
    return (await this.deleteMany([key])) > 0
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    try {
      return invalidateKeys(
        this.#engine,
        keys.map((key) => this.#key(key)),
      )
    } catch (error) {
      return Promise.reject(error)
    }
  }

  async has(key: string): Promise<boolean> {
    const found = await this.#read(this.#key(key))
    return found !== undefined && Date.now() < found.entry.freshUntil
  }

  /** Sets a new freshness (ttl from now) on an existing entry; grace is kept. False when absent. */
  async expire(key: string, ttl: Duration): Promise<boolean> {
    const scoped = this.#key(key)
    const ttlMs = positiveMs(ttl, 'ttl')
    return rewriteInPlace(this.#engine, scoped, 'expire', (stored, version, now) => {
      const graceMs = Math.max(0, stored.staleUntil - stored.freshUntil)
      const freshUntil = now + ttlMs
      // Its tags are indexed already.
      return { entry: { ...stored, version, freshUntil, staleUntil: freshUntil + graceMs }, index: [] }
    })
  }

  async ttl(key: string): Promise<number | undefined> {
    const found = await this.#read(this.#key(key))
    if (!found) return undefined
    return Math.max(0, found.entry.freshUntil - Date.now())
  }

  getMany<T>(keys: readonly string[], options: ManyOptions<T> = {}): Promise<(T | undefined)[]> {
    let read: { scoped: string[]; signal: AbortSignal | undefined; check: ValueSchema | undefined }
    try {
      read = this.#readCall(
        keys.map((key) => this.#key(key)),
        options,
      )
    } catch (error) {
      return Promise.reject(error)
    }
    const reading = getMany<T>(this.#engine, read.scoped, read.check)
    return read.signal ? untilAborted(reading, read.signal) : reading
  }

  setMany<T>(items: ReadonlyArray<{ key: string; value: T } & StoreOptions>): Promise<boolean[]> {
    return setMany(
      this.#engine,
      items.map((item) => ({ ...item, key: this.#key(item.key) })),
    )
  }

  async getOrSetMany<T>(
    keys: readonly string[],
    loadMissing: BatchLoader<T>,
    options: ManyLoadOptions<T> = {},
  ): Promise<(T | undefined)[]> {
    const scoped = keys.map((key) => this.#key(key))
    const unscope = (key: string) => key.slice(this.#scope.length)
    const loader: BatchLoader<T> = (missing, context) => loadMissing(missing.map(unscope), context)
    const loading = getOrSetMany(this.#engine, scoped, loader, unscope, options, this.#defaults)
    // The options were checked first thing (an aborted signal rejects `loading` before any read).
    return options.signal?.aborted === false ? untilAborted(loading, options.signal) : loading
  }

  wrap<A extends unknown[], R>(
    fn: (...args: A) => Promise<R>,
    options: WrapOptions<A, R> = {},
  ): (...args: A) => Promise<R> {
    return wrap(this, fn, options)
  }

  async invalidateTags(
    tags: readonly string[],
    options: { mode?: TagInvalidationMode } = {},
  ): Promise<number> {
    tags.forEach(validateTag)
    this.#engine.assertOpen()
    return invalidateTags(this.#engine, tags, options.mode)
  }

  async deleteByPattern(pattern: string): Promise<number> {
    return invalidatePattern(this.#engine, this.#pattern(pattern))
  }

  async countByPattern(pattern: string, sampleSize = 10): Promise<{ count: number; sample: string[] }> {
    const { count, sample } = await countKeys(this.#engine, this.#pattern(pattern), sampleSize)
    return { count, sample: sample.map((key) => key.slice(this.#scope.length)) }
  }

  async clear(): Promise<number> {
    this.#engine.assertOpen()
    return this.#scope === '' ? clearAll(this.#engine) : this.deleteByPattern('*')
  }

  namespace(name: string, options: SchemaOptions = {}): Cache {
    validateKey(name)
    // Resolved now: a bad schema fails here, not at the namespace's first call, and no call resolves it again.
    const own = resolveSchema(options.schema, options.migrate)
    return new Cache(this.#engine, `${this.#scope}${name}:`, this.#close, own ?? this.#defaults)
  }

  async keys(
    options: { pattern?: string; cursor?: string; limit?: number } = {},
  ): Promise<{ keys: KeyInfo[]; cursor: string }> {
    const page = await listKeys(
      this.#engine,
      this.#pattern(options.pattern ?? '*'),
      options.cursor ?? '0',
      options.limit ?? 100,
    )
    return {
      cursor: page.cursor,
      keys: page.keys.map((info) => ({ ...info, key: info.key.slice(this.#scope.length) })),
    }
  }

  async inspect(key: string): Promise<KeyDetails | undefined> {
    const details = await inspectKey(this.#engine, this.#key(key))
    return details && { ...details, key }
  }

  redisFigures(): Promise<RedisFigures | undefined> {
    return this.#engine.attempt('info', async (l2) => {
      const [fields, dbSize] = await Promise.all([l2.info(), l2.dbSize()])
      return figuresFrom(fields, dbSize)
    })
  }

  stats(): CacheStats {
    return snapshotStats(this.#engine)
  }

  resetStats(): void {
    this.#engine.stats.reset()
  }

  health(): Promise<CacheHealth> {
    return checkHealth(this.#engine)
  }

  on<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): this {
    this.#engine.emitter.on(event, listener)
    return this
  }

  off<E extends keyof CacheEvents>(event: E, listener: (payload: CacheEvents[E]) => void): this {
    this.#engine.emitter.off(event, listener)
    return this
  }

  close(): Promise<void> {
    return this.#close()
  }

  #key(key: string): string {
    this.#engine.assertOpen()
    validateKey(key)
    return this.#scope + key
  }

  #pattern(pattern: string): string {
    this.#engine.assertOpen()
    validatePattern(pattern)
    return escapeGlob(this.#scope) + pattern
  }

  /** The entry for a key, from L1 or else L2 (kept in L1), fresh or stale; undefined when none. */
  async #read<T>(key: string): Promise<{ entry: Entry<T>; tier: 'l1' | 'l2' } | undefined> {
    const engine = this.#engine
    const local = engine.l1?.get(key) as Entry<T> | undefined
    if (local && Date.now() < local.freshUntil) return { entry: local, tier: 'l1' }
    const read = await engine.readL2(key)
    if (read?.stored.kind === 'entry') {
      const entry = read.stored.entry as Entry<T>
      if (Date.now() < entry.staleUntil) {
        engine.keepL1(key, entry, read.bytes)
        return { entry, tier: 'l2' }
      }
    }
    // A suspect copy is a fallback only while Redis cannot answer.
    const usable = local && Date.now() < local.staleUntil && !(local.suspect && read)
    return usable ? { entry: local, tier: 'l1' } : undefined
  }

  async tagKeys(
    tag: string,
    options: { cursor?: string; limit?: number } = {},
  ): Promise<{ keys: string[]; cursor: string }> {
    validateTag(tag)
    this.#engine.assertOpen()
    return tagKeysPage(this.#engine, this.#scope, tag, options.cursor, options.limit)
  }

  async tagCount(tag: string): Promise<number> {
    validateTag(tag)
    this.#engine.assertOpen()
    return countTag(this.#engine, this.#scope, tag)
  }

  async addTags(key: string, tags: readonly string[]): Promise<boolean> {
    const scoped = this.#key(key)
    tags.forEach(validateTag)
    return addTagsTo(this.#engine, scoped, tags)
  }
}

function snapshotStats(engine: Engine): CacheStats {
  const stats = engine.stats
  const l1 = engine.l1
  return {
    ...stats.total.snapshot(),
    l1: l1
      ? { hits: stats.l1Hits, misses: stats.l1Misses, size: l1.size, bytes: l1.bytes, maxBytes: l1.maxBytes }
      : null,
    l2: engine.l2
      ? {
          hits: stats.l2Hits,
          misses: stats.l2Misses,
          errors: stats.l2Errors,
          retries: { ...stats.l2Retries },
          circuit: engine.circuitState(),
        }
      : null,
    sets: stats.sets,
    deletes: stats.deletes,
    invalidations: stats.invalidations,
    lockWaits: stats.lockWaits,
    locks: { ...stats.locks },
    namespaces: stats.namespaces(),
  }
}
