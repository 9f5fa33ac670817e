import { toMs } from '../core/duration.js'
import { InvalidKeyError, InvalidOptionError } from '../core/errors.js'
import { engineRedisOf } from '../engine-redis.js'
import { connectRedis } from '../tiers/redis/client.js'
import { L2Guard } from '../tiers/redis/guard.js'
import { EntityStore, type EntityWrite, type StoredEntity } from './entity-store.js'
import { decodeFields, decodeValue, defaultVersionOf, encodeFields, taggedFields } from './hash-codec.js'
import { unlinkNamespace } from './namespace.js'
import type { EntityCache, EntityCacheOptions, EntityCacheStats, EntitySchema, WarmResult } from './types.js'

const MAX_ID_LENGTH = 512
/** Apart from the engine's keys: cachet's reserved `__` space under its default prefix `cache`. */
const DEFAULT_PREFIX = 'cache:__entity'
// Same breaker as the engine: 3 consecutive failures open it for 5 s, then one probe.
const BREAKER = { threshold: 3, durationMs: 5_000 }

/**
 * Creates a cache of entities stored as Redis hashes `${prefix}:${entity}:${id}`, or `${entity}:${id}`
 * with `prefix: ''` (the `UserCache` it replaces).
 */
export function createEntityCache<T extends object>(options: EntityCacheOptions<T>): EntityCache<T> {
  const prefix = options.prefix ?? DEFAULT_PREFIX
  const entity = options.entity ?? 'user:profile'
  if (entity === '' || entity.startsWith('__')) {
    throw new InvalidOptionError(`entity must be a non-empty name not starting with "__", got "${entity}"`)
  }
  const ttlMs = toMs(options.ttl ?? '7d', 'ttl')
  const timeoutMs = toMs(options.timeout ?? '100ms', 'timeout')
  if (ttlMs <= 0 || timeoutMs <= 0) throw new InvalidOptionError('ttl and timeout must be positive')
  if ((options.cache === undefined) === (options.redis === undefined)) {
    throw new InvalidOptionError('give either redis or cache')
  }
  if (options.cache && options.timeout !== undefined) {
    throw new InvalidOptionError("with cache, the engine's l2.timeout applies: leave timeout unset")
  }

  // The engine's connection and guard when given a cache: one circuit breaker for both.
  const shared = options.cache && engineRedisOf(options.cache)
  if (options.cache && !shared) throw new InvalidOptionError('cache has no Redis (an L1-only cache)')
  const connection = shared ? undefined : connectRedis(options.redis!, { timeoutMs })
  const { client, isCluster } = shared?.connection ?? connection!
  const guard = shared?.guard ?? new L2Guard({ timeoutMs, breaker: BREAKER })
  const store = new EntityStore(client, isCluster, guard, ttlMs)
  const idOf = options.idOf ?? ((value: T) => String((value as { id?: unknown }).id))
  const versionOf = options.versionOf ?? defaultVersionOf
  const { fetchOne, fetchMany, schema } = options
  const canFetch = fetchOne !== undefined || fetchMany !== undefined
  // No prefix: the seed system's own names, `user:profile:{id}`.
  const namespace = prefix === '' ? entity : `${prefix}:${entity}`

  const counts = { hits: 0, misses: 0, fallbacks: 0, errors: 0, staleWrites: 0 }
  const inflight = new Map<string, Promise<T | null>>()
  const background = new Set<Promise<void>>()

  const keyOf = (id: string): string => {
    if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) {
      throw new InvalidKeyError(`Entity id must be a non-empty string of at most ${MAX_ID_LENGTH} chars`, {
        key: String(id),
      })
    }
    return `${namespace}:${id}`
  }

  const toWrite = (value: T, version = versionOf(value)): EntityWrite => ({
    key: keyOf(idOf(value)),
    version,
    fields: encodeFields(value, options.fields),
  })

  /** A stored hash → typed entity; undefined when corrupt or the schema rejects it (counted, then a miss). */
  const decode = (hash: Record<string, string>): T | undefined => {
    let raw: Record<string, unknown>
    try {
      raw = decodeFields(hash)
    } catch {
      counts.errors++
      return undefined
    }
    if (!schema) return raw as T
    const parsed = schema.safeParse(raw)
    if (parsed.success) return parsed.data
    counts.errors++
    return undefined
  }

  /** Redis failures degrade to a miss when a fallback can answer; without one the caller must know. */
  const readOrMiss = async <R>(read: () => Promise<R>, miss: R): Promise<R> => {
    try {
      return await read()
    } catch (error) {
      counts.errors++
      if (!canFetch) throw error
      return miss
    }
  }

  /** Fallback writes stay off the request path: a miss costs one Redis deadline at most, not two. */
  const storeInBackground = (values: T[]): void => {
    if (values.length === 0) return
    let writes: EntityWrite[]
    try {
      writes = values.map((value) => toWrite(value))
    } catch {
      counts.errors++
      return
    }
    const task = store.writeMany(writes).then(
      (results) => {
        counts.staleWrites += results.filter((written) => !written).length
      },
      () => {
        counts.errors++
      },
    )
    background.add(task)
    void task.finally(() => background.delete(task))
  }

  const fetchList = async (ids: string[]): Promise<T[]> => {
    counts.fallbacks++
    if (fetchMany) return fetchMany(ids)
    const values = await Promise.all(ids.map((id) => fetchOne!(id)))
    return values.filter((value) => value !== null) as T[]
  }

  /** The owning service's HTTP fallback, once per id at a time in this process. */
  const load = (id: string): Promise<T | null> => {
    const running = inflight.get(id)
    if (running) return running
    const task = (async () => {
      counts.fallbacks++
      const value = fetchOne
        ? await fetchOne(id)
        : ((await fetchMany!([id])).find((v) => idOf(v) === id) ?? null)
      if (value !== null) storeInBackground([value])
      return value
    })()
    inflight.set(id, task)
    void task.then(
      () => inflight.delete(id),
      () => inflight.delete(id),
    )
    return task
  }

  const answer = (stored: StoredEntity): { hit: true; value: T | null } | { hit: false } => {
    if (stored.state === 'deleted') return { hit: true, value: null }
    if (stored.state === 'found') {
      const value = decode(stored.hash)
      if (value !== undefined) return { hit: true, value }
    }
    return { hit: false }
  }

  const get = async (id: string): Promise<T | null> => {
    const outcome = answer(await readOrMiss(() => store.read(keyOf(id)), { state: 'miss' } as StoredEntity))
    if (outcome.hit) {
      counts.hits++
      return outcome.value
    }
    counts.misses++
    return canFetch ? load(id) : null
  }

  return {
    keyOf,
    get,

    async getFields<K extends keyof T & string>(id: string, fields: readonly K[]) {
      for (const field of fields) {
        if (field.startsWith('__')) throw new InvalidKeyError(`Entity field "${field}" is reserved`)
      }
      const miss: StoredEntity = { state: 'miss' }
      const stored = await readOrMiss(() => store.readFields(keyOf(id), fields), miss)
      if (stored.state === 'deleted') {
        counts.hits++
        return null
      }
      if (stored.state === 'found') {
        const picked = decodePicked<T>(stored.hash, schema)
        if (picked !== undefined) {
          counts.hits++
          return picked as Pick<T, K>
        }
        counts.errors++
      }
      // A miss here is counted by get(), which loads and stores the whole entity.
      const whole = await get(id)
      return whole === null ? null : pick(whole, fields)
    },

    async batchGet(ids) {
      const unique = [...new Set(ids)]
      const keys = unique.map(keyOf)
      const misses: StoredEntity[] = keys.map(() => ({ state: 'miss' }))
      const stored = await readOrMiss(() => store.readMany(keys), misses)
      const found = new Map<string, T>()
      const missing: string[] = []
      stored.forEach((entry, index) => {
        const id = unique[index]!
        const outcome = answer(entry)
        if (!outcome.hit) missing.push(id)
        else if (outcome.value !== null) found.set(id, outcome.value)
      })
      counts.hits += unique.length - missing.length
      counts.misses += missing.length
      if (missing.length === 0 || !canFetch) return found
      const wanted = new Set(missing)
      const loaded = (await fetchList(missing)).filter((value) => wanted.has(idOf(value)))
      for (const value of loaded) found.set(idOf(value), value)
      storeInBackground(loaded)
      return found
    },

    async set(value, setOptions = {}) {
      try {
        const [written] = await store.writeMany([toWrite(value, setOptions.version ?? versionOf(value))])
        if (!written) counts.staleWrites++
        return written!
      } catch (error) {
        counts.errors++
        throw error
      }
    },

    async invalidate(id, invalidateOptions = {}) {
      const key = keyOf(id)
      try {
        const { version } = invalidateOptions
        return version === undefined ? await store.unlink(key) : await store.tombstone(key, version)
      } catch (error) {
        counts.errors++
        throw error
      }
    },

    async warm(ids): Promise<WarmResult> {
      const unique = [...new Set(ids)]
      const present = await store.exists(unique.map(keyOf))
      const absent = unique.filter((_, index) => !present[index])
      if (absent.length === 0) return { cached: unique.length, fetched: 0, missing: [] }
      const wanted = new Set(absent)
      const loaded = (await fetchList(absent)).filter((value) => wanted.has(idOf(value)))
      // Refused writes mean Redis already holds a newer version: the id is cached all the same.
      await store.writeMany(loaded.map((value) => toWrite(value)))
      const loadedIds = new Set(loaded.map(idOf))
      return {
        cached: unique.length - absent.length + loaded.length,
        fetched: loaded.length,
        missing: absent.filter((id) => !loadedIds.has(id)),
      }
    },

    clear: () => unlinkNamespace(client, namespace),

    async settle() {
      await Promise.allSettled([...background])
    },

    stats(): EntityCacheStats {
      const lookups = counts.hits + counts.misses
      return { ...counts, hitRate: lookups === 0 ? 0 : counts.hits / lookups }
    },

    async close() {
      await Promise.allSettled([...background])
      await connection?.close()
    },
  }
}

/** HMGET values → partial entity; each field checked by the schema's own field schema when it has one. */
function decodePicked<T>(
  hash: Record<string, string>,
  schema: EntitySchema<T> | undefined,
): object | undefined {
  const shape = (schema as { shape?: Record<string, EntitySchema<unknown>> } | undefined)?.shape
  const tagged = taggedFields(hash)
  const out: Record<string, unknown> = {}
  for (const [field, text] of Object.entries(hash)) {
    if (field.startsWith('__')) continue
    let value: unknown
    try {
      value = decodeValue(text, tagged.has(field))
    } catch {
      return undefined
    }
    const fieldSchema = shape?.[field]
    if (!fieldSchema) {
      out[field] = value
      continue
    }
    const parsed = fieldSchema.safeParse(value)
    if (!parsed.success) return undefined
    out[field] = parsed.data
  }
  return out
}

function pick<T, K extends keyof T>(value: T, fields: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>
  for (const field of fields) if (value[field] !== undefined) out[field] = value[field]
  return out
}
