import { compareStreamIds } from '../entities/stream-group.js'
import { idVersion, type JournalWrite } from './journal.js'
import type { FlushItem } from './types.js'

/**
 * Groups writes by key, in stream-id order: the last write of a key wins, or with `merge` every write
 * of the key is folded into the previous ones (counters add up). Each item keeps every id it covers,
 * so it is acked only when it is in the database.
 */
export function coalesce<V>(
  writes: readonly JournalWrite[],
  merge: ((older: V, newer: V) => V) | undefined,
): FlushItem<V>[] {
  const sorted = [...writes].sort((a, b) => compareStreamIds(a.id, b.id))
  const byKey = new Map<string, FlushItem<V>>()
  for (const write of sorted) {
    const item = byKey.get(write.key)
    const value = write.value as V
    if (!item) {
      byKey.set(write.key, { key: write.key, value, id: write.id, version: 0n, ids: [write.id] })
      continue
    }
    item.value = merge ? merge(item.value, value) : value
    item.id = write.id
    item.ids.push(write.id)
  }
  for (const item of byKey.values()) item.version = idVersion(item.id)
  return [...byKey.values()]
}
