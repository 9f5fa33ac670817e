import type { BatchLoader } from './cache-api.js'
import type { Engine, L2Read } from './engine.js'
import { UndefinedValueError } from './errors.js'
import { LoadContext } from './load-context.js'
import { type ManyLoadOptions, resolveCall, type StoreOptions } from './options.js'
import { recordHit, recordLoad, recordMiss } from './outcome.js'
import { expectOwnWrite, settleOwnWrite } from './own-write.js'
import { assertLoaded, screenMany } from './schema.js'
import type { ValueSchema } from './schema-option.js'
import type { Entry, L2Write, OwnWrite } from './types.js'

/** An L2 write whose bytes are undefined when the value was too large to encode (never sent). */
type Write = Omit<L2Write, 'bytes'> & { bytes: Buffer | undefined }

/**
 * Items per L2 round trip. Every round trip has the command deadline (100 ms by default), so a
 * batch of thousands is sent as several pipelines rather than one that cannot meet it.
 */
const CHUNK = 100

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK))
  return out
}

/** Fresh values of many keys: L1 first, the rest in one L2 round trip (MGET / pipeline). */
export async function getMany<T>(
  engine: Engine,
  keys: readonly string[],
  check?: ValueSchema,
): Promise<(T | undefined)[]> {
  const startedAt = performance.now()
  const found = await readMany<T>(engine, keys)
  if (check) await screenMany(engine, keys, found, check)
  // Each key's read takes as long as the batch's.
  const lookupMs = performance.now() - startedAt
  return found.map((hit, i) => {
    if (hit.entry) {
      recordHit(engine, keys[i]!, hit.tier!, startedAt)
      return hit.entry.value
    }
    recordMiss(engine, keys[i]!, lookupMs)
    return undefined
  })
}

/** Stores many values: L1 at once, L2 in one pipeline. Resolves per item whether L2 took it. */
export async function setMany<T>(
  engine: Engine,
  items: ReadonlyArray<{ key: string; value: T } & StoreOptions>,
): Promise<boolean[]> {
  engine.assertOpen()
  // Every item is checked before anything is stored.
  const contexts = items.map((item) => {
    if (item.value === undefined) {
      throw new UndefinedValueError(`set('${item.key}') got undefined; use delete() or store null`, {
        key: item.key,
      })
    }
    return resolveCall(engine.options, item)
  })
  const writes: Write[] = items.map((item, i) => {
    const entry = engine.makeEntry(item.key, item.value, contexts[i]!)
    const bytes = engine.encode(item.key, entry)
    const record = engine.inflight.get(item.key)
    if (record) record.invalidated = true
    engine.l1?.delete(item.key)
    engine.putL1(item.key, bytes, entry, contexts[i]!.l1TtlMs)
    return {
      key: engine.fullKey(item.key),
      bytes,
      ttlMs: entry.staleUntil - entry.createdAt,
      tags: entry.tags,
    }
  })
  engine.stats.sets += writes.length
  for (const item of items) if (engine.emitter.has('set')) engine.emitter.emit('set', { key: item.key })
  return persist(engine, writes, 'setMany')
}

/**
 * Reads all keys in one round trip, calls `loadMissing` once with only the keys that had no fresh
 * value, stores what it returned (conditionally, like getOrSet) and answers in the order asked.
 * Keys the loader does not return are answered `undefined` and not cached.
 */
export async function getOrSetMany<T>(
  engine: Engine,
  keys: readonly string[],
  loadMissing: BatchLoader<T>,
  unscope: (key: string) => string,
  options: ManyLoadOptions,
  defaults?: ValueSchema,
): Promise<(T | undefined)[]> {
  engine.assertOpen()
  const call = resolveCall(engine.options, options, defaults)
  const unique = [...new Set(keys)]
  const startedAt = performance.now()
  const found = await readMany<T>(engine, unique)
  if (call.schema) await screenMany(engine, unique, found, call.schema)
  const values = new Map<string, T | undefined>()
  const missing: string[] = []
  const versions = new Map<string, string | null | undefined>()
  const lookupMs = performance.now() - startedAt
  found.forEach((hit, i) => {
    const key = unique[i]!
    if (hit.entry) {
      values.set(key, hit.entry.value)
      recordHit(engine, key, hit.tier!, startedAt)
    } else {
      missing.push(key)
      versions.set(key, hit.version)
      recordMiss(engine, key, lookupMs)
    }
  })

  if (missing.length > 0) {
    const releaseSlot = await engine.loads.acquire(missing[0]!, call.hardMs)
    const started = performance.now()
    let loadedValues: Array<T | undefined>
    // One context for the batch: what the loader sets applies to every key it stores.
    const context = new LoadContext<T>(engine, missing[0]!, undefined, false, undefined, call.signal)
    try {
      const loaded = await loadMissing(missing, context)
      if (context.failure !== undefined) throw context.failure
      loadedValues = missing.map((key, i) => answerFor(loaded, unscope(key), i))
      if (call.schema) await assertBatchLoaded(call.schema, loadedValues, missing)
    } catch (error) {
      // One loader call for the batch, counted under the namespace of its first key.
      recordLoad(engine, missing[0]!, performance.now() - started, false)
      engine.emitError('loader', error, missing[0])
      throw error
    } finally {
      releaseSlot()
    }
    const loadMs = performance.now() - started
    recordLoad(engine, missing[0]!, loadMs, true)
    const writes: Write[] = []
    /** What each write carries, and whether it was registered as this instance's own (own-write.ts). */
    const owned: Array<{ key: string; entry: Entry; registered: OwnWrite | undefined }> = []
    const stored = context.options(call)
    missing.forEach((key, i) => {
      const value = loadedValues[i]
      values.set(key, value)
      if (value === undefined || !context.store) return
      const entry = engine.makeEntry(key, value, stored, loadMs)
      const bytes = engine.encode(key, entry)
      values.set(key, engine.putL1(key, bytes, entry, call.l1TtlMs))
      const version = versions.get(key)
      if (version !== undefined) {
        writes.push({
          key: engine.fullKey(key),
          bytes,
          ttlMs: entry.staleUntil - entry.createdAt,
          tags: entry.tags,
          ifVersion: version,
        })
        owned.push({ key, entry, registered: expectOwnWrite(engine, key) })
      }
    })
    engine.stats.sets += writes.length
    const written = persist(engine, writes, 'getOrSetMany')
    engine.track(
      written.then((results) =>
        owned.forEach(({ key, entry, registered }, i) => {
          if (registered) settleOwnWrite(engine, key, entry, registered, results[i])
        }),
      ),
    )
  }
  return keys.map((key) => values.get(key))
}

/** `operation`: 'setMany' (plain writes, safe to repeat) or 'getOrSetMany' (conditional write-backs). */
async function persist(engine: Engine, writes: Write[], operation: string): Promise<boolean[]> {
  const l2 = engine.l2
  if (!l2) return writes.map(() => true)
  const max = engine.options.l2.maxValueBytes
  const fitting = writes.filter(
    (write): write is L2Write => write.bytes !== undefined && write.bytes.length <= max,
  )
  if (fitting.length === 0) return writes.map(() => false)
  const results: boolean[] = []
  for (const chunk of chunks(fitting)) {
    const written = await engine.attempt(
      operation,
      (tier) => tier.setMany(chunk),
      undefined,
      (queue) => {
        // An explicit set is the new truth: Redis must at least drop the older value once it answers.
        // (A conditional write-back that fails leaves Redis as consistent as before: nothing to recover.)
        const unconditional = chunk.filter((write) => write.ifVersion === undefined)
        if (unconditional.length > 0) queue.addKeys(unconditional.map((write) => write.key))
      },
    )
    results.push(...(written ?? chunk.map(() => false)))
  }
  const written = fitting.filter((_, i) => results[i]).map((write) => write.key)
  if (written.length > 0) engine.publish({ t: 'set', k: written })
  const byKey = new Map(fitting.map((write, i) => [write.key, results[i]!]))
  return writes.map((write) => byKey.get(write.key) ?? false)
}

export interface ManyRead<T> {
  entry?: Entry<T>
  /** Which tier answered, when one did. */
  tier?: 'l1' | 'l2'
  /** The version an L2 write-back must match; undefined when L2 could not be read. */
  version?: string | null
}

async function readMany<T>(engine: Engine, keys: readonly string[]): Promise<ManyRead<T>[]> {
  engine.assertOpen()
  const now = Date.now()
  const results: ManyRead<T>[] = keys.map((key) => {
    const entry = engine.l1?.get(key) as Entry<T> | undefined
    if (entry && now < entry.freshUntil) return { entry, tier: 'l1' as const }
    return {}
  })
  const pending = keys.map((key, i) => ({ key, i })).filter(({ i }) => !results[i]!.entry)
  if (pending.length === 0 || !engine.l2) return results
  const watched = engine.watchRead(pending.map(({ key }) => key))
  const raw = await engine.attempt('getMany', async (l2) => {
    const all: (Buffer | undefined)[] = []
    for (const chunk of chunks(pending))
      all.push(...(await l2.getMany(chunk.map(({ key }) => engine.fullKey(key)))))
    return all
  })
  const overtaken = watched()
  if (!raw) return results
  pending.forEach(({ key, i }, j) => {
    const read: L2Read = engine.decodeRead(key, raw[j])
    results[i] = { version: read.version }
    if (read.stored.kind === 'entry' && Date.now() < read.stored.entry.freshUntil) {
      const entry = read.stored.entry as Entry<T>
      results[i] = {
        entry: {
          ...entry,
          value: overtaken.has(key) ? entry.value : engine.keepL1(key, entry, read.bytes),
        } as Entry<T>,
        tier: 'l2',
        version: read.version,
      }
    } else engine.stats.l2Misses++
  })
  return results
}

/** The value a batch loader answered for one key: by position in an array, else by key. */
function answerFor<T>(
  loaded: Awaited<ReturnType<BatchLoader<T>>>,
  key: string,
  index: number,
): T | undefined {
  if (Array.isArray(loaded)) return loaded[index]
  return loaded instanceof Map ? loaded.get(key) : (loaded as Record<string, T>)[key]
}

/** The values a getOrSetMany loader answered for the missing keys, checked against the call's schema (schema.ts assertLoaded). */
async function assertBatchLoaded(
  check: ValueSchema,
  values: readonly unknown[],
  missing: readonly string[],
): Promise<void> {
  const who = `the loader of getOrSetMany(${missing.length} keys)`
  for (const value of values) await assertLoaded(check, value, who, missing[0]!)
}
