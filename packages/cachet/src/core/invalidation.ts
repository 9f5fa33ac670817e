import type { CacheEvents } from './cache-api.js'
import type { Engine } from './engine.js'
import { InvalidOptionError } from './errors.js'
import { compileGlob } from './glob.js'
import { scanKeys } from './inspect.js'
import { escapeGlob } from './keys.js'

/**
 * Invalidation fan-out: this instance's L1 and loads in flight, Redis (tombstones, so a load that
 * started earlier cannot write back), and the bus for the other instances. Keys are relative to the
 * prefix. An L2 failure is counted and queued for retry, never thrown.
 */

/** Invalidates keys; resolves how many held a value (in L2, or in L1 when there is no L2). */
export async function invalidateKeys(engine: Engine, keys: readonly string[]): Promise<number> {
  const keySet = new Set(keys)
  const dropLocal = () => {
    engine.invalidateInflight((key) => keySet.has(key))
    return keys.filter((key) => engine.l1?.delete(key)).length
  }
  const dropped = dropLocal()
  engine.stats.deletes += keys.length
  const fullKeys = keys.map((key) => engine.fullKey(key))
  engine.publish({ t: 'del', k: fullKeys })
  let count = dropped
  if (engine.l2 && fullKeys.length > 0) {
    // One tombstone per key for the whole call: a repeat (core/retry.ts) of a try whose reply was lost
    // finds its own tombstone there and answers what that try found (tiers/redis/scripts.ts).
    const tombstones = new Map<string, Buffer>()
    const tombstone = (key: string): Buffer => {
      let bytes = tombstones.get(key)
      if (bytes === undefined) {
        bytes = engine.tombstone()
        tombstones.set(key, bytes)
      }
      return bytes
    }
    count =
      (await engine.attempt(
        'delete',
        (l2) => l2.invalidate(fullKeys, tombstone, engine.tombstoneTtlMs),
        undefined,
        (queue) => queue.addKeys(fullKeys),
      )) ?? 0
    // Again once Redis holds the tombstones: a read that began after the first pass and got the old
    // value from Redis may have put it in L1 meanwhile.
    dropLocal()
  }
  emitInvalidate(engine, { keys, count })
  return count
}

/**
 * How invalidateTags() treats the entries of a tag: 'delete' (the default) removes them (a tombstone
 * each); 'expire' keeps each as a stale fail-safe copy: its freshness ends now, its grace is kept.
 */
export type TagInvalidationMode = 'delete' | 'expire'

/** Invalidates every entry carrying one of the tags; `mode` says how (see TagInvalidationMode). */
export async function invalidateTags(
  engine: Engine,
  tags: readonly string[],
  mode: TagInvalidationMode = 'delete',
): Promise<number> {
  if (mode === 'expire') return expireTags(engine, tags)
  if (mode !== 'delete') {
    throw new InvalidOptionError(`mode must be 'delete' or 'expire', got ${JSON.stringify(mode)}`)
  }
  const tagSet = new Set(tags)
  const dropLocal = () => {
    engine.invalidateInflight((_, record) => record.tags.some((tag) => tagSet.has(tag)))
    return engine.l1?.deleteByTags(tags) ?? 0
  }
  let count = dropLocal()
  if (engine.l2) {
    count =
      (await engine.attempt(
        'invalidateTags',
        (l2) => l2.invalidateTags(tags, engine.tombstone, engine.tombstoneTtlMs),
        undefined,
        (queue) => queue.addTags(tags),
      )) ?? count
    // Again once Redis holds the tombstones (see invalidateKeys).
    dropLocal()
  }
  engine.publish({ t: 'tags', k: [...tags] })
  engine.stats.invalidations++
  emitInvalidate(engine, { tags, count })
  return count
}

/**
 * Soft purge of tags: every entry carrying one stops being fresh now and is kept, within its grace, as
 * the stale copy getOrSet serves while it refreshes (or when the loader fails). Loads in flight are
 * flagged so they do not store a fresh copy. Other instances drop their L1 copies (they read Redis's
 * stale one next). If Redis cannot be reached, the tags are queued for a retry as a delete: a purge
 * that cannot keep the stale copies still makes sure no fresh one is served.
 */
async function expireTags(engine: Engine, tags: readonly string[]): Promise<number> {
  const tagSet = new Set(tags)
  const now = Date.now()
  const expireLocal = () => {
    engine.invalidateInflight((_, record) => record.tags.some((tag) => tagSet.has(tag)))
    return engine.l1?.expireByTags(tags, now) ?? 0
  }
  let count = expireLocal()
  if (engine.l2) {
    count =
      (await engine.attempt(
        'invalidateTags',
        (l2) => l2.expireTags(tags, now),
        undefined,
        (queue) => queue.addTags(tags),
      )) ?? count
    // Again once Redis holds the stale copies (see invalidateKeys).
    expireLocal()
  }
  engine.publish({ t: 'tags', k: [...tags] })
  engine.stats.invalidations++
  emitInvalidate(engine, { tags, count })
  return count
}

/** Invalidates every key matching a glob pattern relative to the prefix (SCAN, never KEYS). */
export async function invalidatePattern(engine: Engine, pattern: string): Promise<number> {
  const matches = compileGlob(pattern)
  const dropLocal = () => {
    engine.invalidateInflight(matches)
    return engine.l1?.deleteWhere(matches) ?? 0
  }
  let count = dropLocal()
  engine.publish({ t: 'pattern', k: [engine.fullKey(pattern)] })
  if (engine.l2) {
    count =
      (await engine.attempt(
        'deleteByPattern',
        () => invalidatePatternInL2(engine, pattern),
        undefined,
        (queue) => queue.addPattern(pattern),
      )) ?? 0
    // Again once Redis holds the tombstones (see invalidateKeys).
    dropLocal()
  }
  engine.stats.invalidations++
  emitInvalidate(engine, { pattern, count })
  return count
}

/** Tombstones every entry of L2 matching the pattern (relative to the prefix); resolves how many were live. */
export async function invalidatePatternInL2(engine: Engine, pattern: string): Promise<number> {
  let count = 0
  // cachet's own keys (tags, locks, audit) are skipped; tombstones go in batches: SCAN-consistent.
  for await (const batch of scanKeys(engine, pattern)) {
    const fullKeys = batch.map((key) => engine.fullKey(key))
    count += await engine.l2!.invalidate(fullKeys, engine.tombstone, engine.tombstoneTtlMs)
  }
  return count
}

/** Deletes every key of the cache's prefix (never FLUSHDB); UNLINK frees the memory at once. */
export async function clearAll(engine: Engine): Promise<number> {
  let count = engine.l1?.size ?? 0
  engine.l1?.clear()
  engine.invalidateInflight(() => true)
  engine.publish({ t: 'clear', k: [] })
  if (engine.l2) {
    count =
      (await engine.attempt(
        'clear',
        () => clearL2(engine),
        undefined,
        (queue) => queue.addClear(),
      )) ?? 0
  }
  engine.stats.invalidations++
  emitInvalidate(engine, { pattern: '*', count })
  return count
}

/** UNLINKs every key of the prefix in L2 except cachet's reserved `__` ones; resolves how many held a value. */
export async function clearL2(engine: Engine): Promise<number> {
  const prefix = escapeGlob(engine.options.prefix)
  let count = 0
  for (const pattern of [`${prefix}:[^_]*`, `${prefix}:_[^_]*`, `${prefix}:_`]) {
    count += await engine.l2!.deleteByPattern(pattern)
  }
  return count
}

function emitInvalidate(engine: Engine, payload: CacheEvents['invalidate']): void {
  if (engine.emitter.has('invalidate')) engine.emitter.emit('invalidate', payload)
}
