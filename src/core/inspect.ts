import type { KeyDetails, KeyInfo } from './cache-api.js'
import { isCompressed } from './codec/envelope.js'
import type { Engine } from './engine.js'

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

/** One page of the key browser: up to `limit` keys with their type, TTL and memory. */
export async function listKeys(
  engine: Engine,
  pattern: string,
  cursor: string,
  limit: number,
): Promise<{ keys: KeyInfo[]; cursor: string }> {
  const l2 = engine.l2
  if (!l2) return { keys: [], cursor: '0' }
  const found: string[] = []
  let next = cursor
  for (let scans = 0; scans < MAX_SCANS_PER_PAGE && found.length < limit; scans++) {
    const page = await l2.scanPage(engine.fullKey(pattern), next, Math.max(limit, 100))
    next = page.cursor
    for (const full of page.keys) {
      const key = engine.relativeKey(full)
      if (key !== undefined && !isReserved(key)) found.push(key)
    }
    if (next === '0') break
  }
  // SCAN may return more than asked; the rest is not lost, only listed on no page (SCAN semantics).
  const keys = found.slice(0, limit)
  const described = await l2.describe(keys.map((key) => engine.fullKey(key)))
  return {
    cursor: next,
    keys: keys.map((key, i) => ({
      key,
      type: described[i]!.type,
      ttlMs: described[i]!.pttl,
      bytes: described[i]!.bytes,
    })),
  }
}

/** A decoded view of one key: its state, value, tags and timings. */
export async function inspectKey(engine: Engine, key: string): Promise<KeyDetails | undefined> {
  const now = Date.now()
  if (!engine.l2) {
    const entry = engine.l1?.get(key)
    if (!entry) return undefined
    return {
      key,
      type: 'string',
      state: now < entry.freshUntil ? 'fresh' : 'stale',
      value: entry.value,
      tags: entry.tags,
      createdAt: entry.createdAt,
      freshUntil: entry.freshUntil,
      staleUntil: entry.staleUntil,
      ttlMs: Math.max(0, entry.staleUntil - now),
      storedBytes: 0,
      compressed: false,
    }
  }
  const full = engine.fullKey(key)
  const [bytes, [described]] = await Promise.all([engine.l2.get(full), engine.l2.describe([full])])
  if (!bytes) {
    if (!described || described.type === 'none') return undefined
    return {
      key,
      type: described.type,
      ttlMs: described.pttl,
      bytes: described.bytes,
      state: 'foreign',
      tags: [],
      storedBytes: 0,
      compressed: false,
    }
  }
  const read = engine.decodeRead(key, bytes)
  const base = {
    key,
    type: described?.type ?? 'string',
    ttlMs: described?.pttl,
    bytes: described?.bytes,
    storedBytes: bytes.length,
    compressed: isCompressed(bytes),
  }
  if (read.stored.kind === 'tombstone') return { ...base, state: 'tombstone', tags: [] }
  if (read.stored.kind === 'absent') return { ...base, state: 'foreign', tags: [] }
  const entry = read.stored.entry
  return {
    ...base,
    state: now < entry.freshUntil ? 'fresh' : 'stale',
    value: entry.value,
    tags: entry.tags,
    createdAt: entry.createdAt,
    freshUntil: entry.freshUntil,
    staleUntil: entry.staleUntil,
  }
}
