import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { ManyRead } from './batch.js'
import { newVersion } from './codec/envelope.js'
import { type Engine, L2Read } from './engine.js'
import { SchemaMismatchError } from './errors.js'
import { recordInvalid } from './outcome.js'
import { writeOwnCopy } from './own-write.js'
import type { ValueSchema } from './schema-option.js'
import { isPromiseLike } from './timeouts.js'
import type { Entry } from './types.js'

/*
 * Schema-checked reads (README, "Schema-checked reads"): a cached value its schema refuses is a miss,
 * counted once per call, unless `migrate` turns it into one the schema accepts, which is then written
 * back. The loader's own value is checked too. Values are checked, never transformed: what is served
 * is what was stored.
 */

/** Entries a schema accepted, so a hit on the same L1 copy is not validated again. */
const accepted = new WeakMap<object, StandardSchemaV1>()

/**
 * The L1 hit's check, synchronous: true when the schema accepted this very entry before, or accepts
 * it now. False when it refuses it, or validates asynchronously: the call then goes the async way.
 */
export function acceptedNow(check: ValueSchema, entry: Entry): boolean {
  if (accepted.get(entry) === check.schema) return true
  const result = check.schema['~standard'].validate(entry.value)
  if (isPromiseLike(result)) {
    result.then(undefined, ignore)
    return false
  }
  if (result.issues) return false
  accepted.set(entry, check.schema)
  return true
}

async function accepts(check: ValueSchema, entry: Entry): Promise<boolean> {
  if (accepted.get(entry) === check.schema) return true
  if ((await check.schema['~standard'].validate(entry.value)).issues) return false
  accepted.set(entry, check.schema)
  return true
}

/**
 * The copies a load found, checked: an L1 copy the schema refuses is dropped, and an L2 entry it
 * refuses is migrated (and written back when fresh) or becomes absent, its version kept so the
 * loader's value can replace it. Counted once when either was refused.
 */
export async function screenCopies<T>(
  engine: Engine,
  key: string,
  check: ValueSchema,
  stale: Entry<T> | undefined,
  read: L2Read | undefined,
): Promise<{ stale: Entry<T> | undefined; read: L2Read | undefined }> {
  let refused = false
  if (stale && !(await accepts(check, stale))) {
    if (engine.l1?.get(key) === stale) engine.l1.delete(key)
    stale = undefined
    refused = true
  }
  let migrated: Entry | undefined
  if (read?.stored.kind === 'entry' && !(await accepts(check, read.stored.entry))) {
    refused = true
    migrated = await migrateEntry(engine, key, check, read.stored.entry)
    read = new L2Read(
      migrated ? { kind: 'entry', entry: migrated } : { kind: 'absent' },
      read.bytes,
      read.raw,
    )
  }
  if (refused) recordInvalid(engine, key, migrated !== undefined)
  return { stale, read }
}

/** One cached entry, checked: itself, its migrated copy, or undefined (counted as refused). */
export async function checkEntry<T>(
  engine: Engine,
  key: string,
  check: ValueSchema,
  entry: Entry<T>,
): Promise<Entry<T> | undefined> {
  if (await accepts(check, entry)) return entry
  const migrated = await migrateEntry(engine, key, check, entry)
  recordInvalid(engine, key, migrated !== undefined)
  return migrated as Entry<T> | undefined
}

/**
 * A batch read's finds, checked in place: a refused entry becomes its migrated copy, or a miss that
 * keeps the version a write-back of the loaded value must find (Redis', or else the L1 copy's).
 */
export async function screenMany<T>(
  engine: Engine,
  keys: readonly string[],
  found: ManyRead<T>[],
  check: ValueSchema,
): Promise<void> {
  for (const [i, hit] of found.entries()) {
    if (!hit.entry) continue
    const checked = await checkEntry(engine, keys[i]!, check, hit.entry)
    found[i] = checked
      ? { ...hit, entry: checked }
      : { version: hit.version ?? (hit.entry.version || undefined) }
  }
}

/**
 * The entry of the migrated value, lifetimes and tags kept, in L1 and, while fresh, written back to
 * Redis unless another write replaced the old one meanwhile; undefined when there is no migrate, it
 * gives undefined or throws, or the schema refuses its result too.
 */
async function migrateEntry(
  engine: Engine,
  key: string,
  check: ValueSchema,
  entry: Entry,
): Promise<Entry | undefined> {
  if (!check.migrate) return undefined
  let value: unknown
  try {
    value = await check.migrate(entry.value, key)
  } catch (error) {
    engine.emitError('migrate', error, key)
    return undefined
  }
  if (value === undefined || (await check.schema['~standard'].validate(value)).issues) return undefined
  const migrated: Entry = { ...entry, value, version: newVersion() }
  delete migrated.suspect
  const bytes = engine.encode(key, migrated)
  engine.l1?.delete(key)
  const copy: Entry = { ...migrated, value: engine.putL1(key, bytes, migrated) }
  accepted.set(copy, check.schema)
  const ttlMs = entry.staleUntil - Date.now()
  // Only a fresh entry is rewritten: a stale one is about to be replaced by the loader's value, whose
  // conditional write expects the version it read.
  if (bytes && entry.version !== '' && Date.now() < entry.freshUntil && ttlMs > 0) {
    const full = engine.fullKey(key)
    const written = writeOwnCopy(engine, 'migrate', key, migrated, (l2) =>
      l2.set({ key: full, bytes, ttlMs, tags: entry.tags, ifVersion: entry.version }),
    )
    engine.track(written.then((ok) => ok && engine.publish({ t: 'set', k: [full] })))
  }
  return copy
}

/**
 * Checks a loaded value against the call's schema where the loader ran (get-or-set.ts, batch.ts): a
 * value it refuses throws SchemaMismatchError, so nothing is cached (a stale value, if any, is served
 * as for any loader failure). Synchronous when the schema validates synchronously (zod without async
 * refinements), so a synchronous loader's value stays on the synchronous path; a promise otherwise.
 */
export function assertLoaded(
  check: ValueSchema,
  value: unknown,
  who: string,
  key: string,
): Promise<void> | undefined {
  if (value === undefined) return undefined
  const result = check.schema['~standard'].validate(value)
  if (isPromiseLike(result))
    return Promise.resolve(result).then((settled) => refuseOnIssues(settled, who, key))
  refuseOnIssues(result, who, key)
  return undefined
}

/** Throws SchemaMismatchError naming the first issues when the schema refused a loaded value. */
function refuseOnIssues(result: StandardSchemaV1.Result<unknown>, who: string, key: string): void {
  if (!result.issues) return
  const issues = result.issues.slice(0, 3).map(describeIssue).join('; ')
  throw new SchemaMismatchError(`${who} returned a value its schema refuses: ${issues}`, { key })
}

function describeIssue(issue: StandardSchemaV1.Issue): string {
  const path = issue.path?.map((part) => (typeof part === 'object' ? part.key : part)).join('.')
  return path ? `${path}: ${issue.message}` : issue.message
}

function ignore(): void {}
