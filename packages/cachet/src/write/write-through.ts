import type { CacheApi } from '../core/cache-api.js'
import type { Engine } from '../core/engine.js'
import { engineOf } from '../core/engine-of.js'
import { invalidateKeys } from '../core/invalidation.js'
import { validateKey } from '../core/keys.js'
import { type CallContext, type CallOptions, resolveCall } from '../core/options.js'

/** How the value a write-through stores is kept: the engine's ttl, grace and tags. */
export type WriteThroughOptions = Pick<CallOptions, 'ttl' | 'grace' | 'tags'>

/**
 * Write-through: runs `write` (the source of truth: a database update) first, then stores the value it
 * resolves in the cache. `undefined` means "nothing to store": the key is invalidated instead.
 *
 * The cache write is conditional on the version the key held before `write` started, like a
 * getOrSet write-back (docs/write-behind.md): if anything wrote or invalidated the key meanwhile — a
 * reader caching what it read before the update, or another writer — nobody can know which value is
 * newer, so the key is invalidated (tombstoned) and the next read loads from the source. So a
 * concurrent reader never re-caches the old value, and two concurrent writers never leave the older
 * value cached. When Redis cannot be read or written, the key is invalidated (retried until Redis
 * answers). Resolves what `write` resolved; if `write` throws, the cache is left as it was.
 */
export async function writeThrough<T>(
  cache: CacheApi,
  key: string,
  write: () => Promise<T> | T,
  options: WriteThroughOptions = {},
): Promise<T> {
  const engine = engineOf(cache)
  engine.assertOpen()
  validateKey(key)
  const call = resolveCall(engine.options, options)
  const scoped = cache.scope + key
  const before = await versionOf(engine, scoped)
  const value = await write()
  engine.invalidateInflight((loading) => loading === scoped)
  if (value === undefined || before === undefined || !(await storeIf(engine, scoped, value, before, call)))
    await invalidateKeys(engine, [scoped])
  return value
}

/**
 * The version a conditional write must find: from Redis when there is one (null = absent), else from L1.
 * Undefined when Redis could not be read.
 */
async function versionOf(engine: Engine, key: string): Promise<string | null | undefined> {
  if (!engine.l2) return engine.l1?.get(key)?.version ?? null
  return (await engine.readL2(key))?.version
}

/** Stores the value if the key still holds `version`; false when it did not (or Redis failed). */
async function storeIf<T>(
  engine: Engine,
  key: string,
  value: T,
  version: string | null,
  call: CallContext,
): Promise<boolean> {
  const entry = engine.makeEntry(key, value, call)
  const bytes = engine.encode(key, entry)
  if (!engine.l2) {
    if ((engine.l1?.get(key)?.version ?? null) !== version) return false
  } else {
    if (!bytes || bytes.length > engine.options.l2.maxValueBytes) return false
    const write = {
      key: engine.fullKey(key),
      bytes,
      ttlMs: entry.staleUntil - entry.createdAt,
      tags: entry.tags,
    }
    // A failure answers false: the caller invalidates the key, and that is queued until Redis answers.
    const written = await engine.attempt(
      'writeThrough',
      (l2) => l2.set({ ...write, ifVersion: version }),
      key,
    )
    if (!written) return false
  }
  engine.l1?.delete(key)
  engine.putL1(key, bytes, entry)
  engine.stats.sets++
  engine.publish({ t: 'set', k: [engine.fullKey(key)] })
  if (engine.emitter.has('set')) engine.emitter.emit('set', { key })
  return true
}
