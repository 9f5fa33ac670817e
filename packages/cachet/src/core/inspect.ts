import { createHash } from 'node:crypto'
import type { KeyDetails, KeyInfo } from './cache-api.js'
import { isCompressed } from './codec/envelope.js'
import type { Engine } from './engine.js'
import { InvalidKeyError } from './errors.js'
import type { Entry } from './types.js'

const SCAN_COUNT = 500
const MAX_SCANS_PER_PAGE = 20

/** cachet's own keys (tags, locks, audit…) start with `__` after the prefix and are never user data. */
function isReserved(key: string): boolean {
  return key.startsWith('__')
}

/**
 * Every key (relative to the prefix) matching a pattern relative to the prefix, in batches, by SCAN
 * (every master on a Cluster). SCAN semantics: keys present from start to end are all returned.
 */
export async function* scanKeys(engine: Engine, pattern: string): AsyncGenerator<string[]> {
  const l2 = engine.l2
  if (!l2) return
  let cursor = '0'
  do {
    const page = await l2.scanPage(engine.fullKey(pattern), cursor, SCAN_COUNT)
    cursor = page.cursor
    const keys: string[] = []
    for (const full of page.keys) {
      const key = engine.relativeKey(full)
      if (key !== undefined && !isReserved(key)) keys.push(key)
    }
    if (keys.length > 0) yield keys
  } while (cursor !== '0')
}

/**
 * One page of the key browser: up to `limit` live keys (tombstones left by invalidations are not
 * listed) with their type, TTL and memory. The cursor is `<scan cursor>` or `<scan cursor>.<mark>`
 * when a SCAN batch held more than the page: the next page replays that batch and lists only the keys
 * ordered after the mark. Batches are ordered by a hash of the key, not by position, so a batch that
 * comes back in another order (Redis rehashing between two pages) is not mis-replayed. SCAN's own
 * semantics still apply: every key present throughout is listed; one may be listed twice.
 */
export async function listKeys(
  engine: Engine,
  pattern: string,
  cursor: string,
  limit: number,
): Promise<{ keys: KeyInfo[]; cursor: string }> {
  const l2 = engine.l2
  if (!l2) return { keys: [], cursor: '0' }
  const [start, mark] = cursor.split('.') as [string, string | undefined]
  if (mark !== undefined && !/^[0-9a-f]{12}$/.test(mark)) {
    throw new InvalidKeyError(`invalid cursor ${JSON.stringify(cursor)}: use one a previous page returned`)
  }
  let scanCursor = start
  let after = mark
  const keys: KeyInfo[] = []
  for (let scans = 0; scans < MAX_SCANS_PER_PAGE; scans++) {
    const page = await l2.scanPage(engine.fullKey(pattern), scanCursor, Math.max(limit, 100))
    const batch = page.keys
      .map((full) => ({ full, order: orderOf(full) }))
      .filter((item) => after === undefined || item.order > after)
      .sort((a, b) => (a.order < b.order ? -1 : 1))
    const described = await l2.describe(batch.map((item) => item.full))
    for (let i = 0; i < batch.length; i++) {
      if (keys.length === limit) return { keys, cursor: `${scanCursor}.${batch[i - 1]!.order}` }
      const key = engine.relativeKey(batch[i]!.full)
      const info = described[i]!
      if (key === undefined || isReserved(key) || info.tombstone || info.type === 'none') continue
      keys.push({
        key,
        type: info.type,
        ttlMs: info.pttl,
        bytes: info.bytes,
        freshUntil: info.freshUntil,
        staleUntil: info.staleUntil,
      })
    }
    scanCursor = page.cursor
    after = undefined
    if (scanCursor === '0' || keys.length === limit) break
  }
  return { keys, cursor: scanCursor }
}

/** A key's place in a page: 48 bits of its SHA-1, as 12 hex characters. */
function orderOf(key: string): string {
  return createHash('sha1').update(key).digest('hex').slice(0, 12)
}

/** How many live keys (and a sample) match a pattern relative to the prefix; tombstones do not count. */
export async function countKeys(
  engine: Engine,
  pattern: string,
  sampleSize: number,
): Promise<{ count: number; sample: string[] }> {
  const sample: string[] = []
  let count = 0
  for await (const batch of scanKeys(engine, pattern)) {
    const described = await engine.l2!.describe(batch.map((key) => engine.fullKey(key)))
    batch.forEach((key, i) => {
      if (described[i]!.tombstone || described[i]!.type === 'none') return
      count++
      if (sample.length < sampleSize) sample.push(key)
    })
  }
  return { count, sample }
}

/** A decoded view of one key: its state, value, tags and timings. */
export async function inspectKey(engine: Engine, key: string): Promise<KeyDetails | undefined> {
  if (!engine.l2) {
    const entry = engine.l1?.get(key)
    if (!entry) return undefined
    const base = {
      key,
      type: 'string',
      ttlMs: Math.max(0, entry.staleUntil - Date.now()),
      storedBytes: 0,
      compressed: false,
    }
    return { ...base, ...entryDetails(entry) }
  }
  const full = engine.fullKey(key)
  const [bytes, [described]] = await Promise.all([engine.l2.get(full), engine.l2.describe([full])])
  if (!bytes && (!described || described.type === 'none')) return undefined
  const base = {
    key,
    type: described?.type ?? 'string',
    ttlMs: described?.pttl,
    bytes: described?.bytes,
    storedBytes: bytes?.length ?? 0,
    compressed: bytes ? isCompressed(bytes) : false,
  }
  // Not a string of ours (another type, or bytes no codec reads): shown, never decoded.
  const read = bytes ? engine.decodeRead(key, bytes) : undefined
  if (!read || read.stored.kind === 'absent') return { ...base, state: 'foreign', tags: [] }
  if (read.stored.kind === 'tombstone') return { ...base, state: 'tombstone', tags: [] }
  return { ...base, ...entryDetails(read.stored.entry) }
}

function entryDetails(
  entry: Entry,
): Pick<
  KeyDetails,
  'state' | 'value' | 'tags' | 'createdAt' | 'freshUntil' | 'staleUntil' | 'etag' | 'lastModified'
> {
  return {
    state: Date.now() < entry.freshUntil ? 'fresh' : 'stale',
    value: entry.value,
    tags: entry.tags,
    createdAt: entry.createdAt,
    freshUntil: entry.freshUntil,
    staleUntil: entry.staleUntil,
    ...(entry.meta?.etag !== undefined && { etag: entry.meta.etag }),
    ...(entry.meta?.lastModified !== undefined && { lastModified: entry.meta.lastModified }),
  }
}
