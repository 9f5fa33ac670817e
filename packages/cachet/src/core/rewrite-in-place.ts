import { newVersion } from './codec/envelope.js'
import type { Engine } from './engine.js'
import { writeOwnCopy } from './own-write.js'
import { envelopeBytes, rewrite } from './store-load.js'
import type { Entry } from './types.js'

/** What a rewrite in place changes: the new entry, and the tags Redis must index it under. */
export interface InPlaceChange {
  entry: Entry
  index: readonly string[]
}

/**
 * Rewrites the live entry under `key` (relative to the prefix) with what `change` makes of it, its
 * payload bytes kept as they are (`expire`, `addTags`). L2 is the truth when there is one, and the
 * version it held guards the rewrite against a racing write. `change` gets the stored entry and the
 * version to keep (a legacy, pre-envelope value gets one now); it answers undefined when there is
 * nothing to write. False when there is no live entry, or Redis did not take the rewrite (it changed
 * meanwhile, or is down).
 */
export async function rewriteInPlace(
  engine: Engine,
  key: string,
  operation: string,
  change: (stored: Entry, version: string, now: number) => InPlaceChange | undefined,
): Promise<boolean> {
  const read = await engine.readL2(key)
  const stored =
    read?.stored.kind === 'entry' ? read.stored.entry : engine.l2 ? undefined : engine.l1?.get(key)
  const now = Date.now()
  if (!stored || now >= stored.staleUntil) return false
  const changed = change(stored, stored.version === '' ? newVersion() : stored.version, now)
  if (!changed) return true
  const { entry, index } = changed
  const bytes = rewrite(engine, key, entry, envelopeBytes(read))
  if (!bytes) return false
  engine.l1?.delete(key)
  engine.putL1(key, bytes, entry)
  if (!engine.l2 || !read) return engine.l2 === undefined
  const full = engine.fullKey(key)
  const write = { key: full, bytes, ttlMs: entry.staleUntil - now, tags: index, ifVersion: read.version }
  const written = await writeOwnCopy(engine, operation, key, entry, (l2) => l2.set(write))
  if (written === undefined) return false
  engine.publish({ t: 'set', k: [full] })
  return written
}
