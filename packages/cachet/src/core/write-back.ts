import type { Engine, Inflight } from './engine.js'
import { dropOwnCopy, writeOwnCopy } from './own-write.js'
import type { Entry, LockHandle } from './types.js'

/**
 * The conditional L2 write: only if the key still holds the version seen before loading
 * (docs/reliability.md E4, C1). Tagged writes re-check the tags' epochs and undo themselves if one moved.
 * A lock sharing the entry's slot is released by the same script; the caller releases any other.
 */
export async function writeBack(
  engine: Engine,
  key: string,
  entry: Entry,
  bytes: Buffer | undefined,
  version: string | null | undefined,
  epochs: number[] | undefined,
  record: Inflight,
  lock: LockHandle | undefined,
): Promise<void> {
  const l2 = engine.l2
  if (!l2 || !bytes || version === undefined || bytes.length > engine.options.l2.maxValueBytes) return
  const full = engine.fullKey(key)
  const unlock = lock?.colocated ? { key: lock.key, token: lock.token } : undefined
  const ttlMs = Math.max(1, entry.staleUntil - Date.now())
  const written = await writeOwnCopy(engine, 'set', key, entry, (l2) =>
    l2.set({ key: full, bytes, ttlMs, tags: entry.tags, ifVersion: version, unlock }),
  )
  // A conditional write that fails leaves Redis as consistent as before: nothing to recover.
  if (written === undefined) return
  if (unlock) lock!.settled()
  if (!written) {
    // Someone invalidated or rewrote the key while we loaded: our value must not stay in L1 either.
    dropOwnCopy(engine, key, entry)
    return
  }
  if (epochs && entry.tags.length > 0) {
    const now = (await engine.attempt('tagEpochs', (tier) => tier.tagEpochs(entry.tags))) ?? epochs
    if (now.some((epoch, i) => epoch !== epochs[i]) || record.invalidated) {
      await engine.attempt(
        'delete',
        (tier) => tier.invalidate([full], engine.tombstone, engine.tombstoneTtlMs),
        key,
        (queue) => queue.addKeys([full]),
      )
      engine.l1?.delete(key)
      engine.publish({ t: 'del', k: [full] })
      return
    }
  }
  engine.publish({ t: 'set', k: [full] })
}
