import type { Cluster, Redis } from 'ioredis'
import { escapeGlob } from '../core/keys.js'

const SCAN_COUNT = 500

/**
 * Removes every key under `${namespace}:` with SCAN + UNLINK (never KEYS, never FLUSHDB: other data
 * shares the instance). On a Cluster each master is scanned. Resolves the number of keys removed.
 * Keys written while the scan runs may survive (SCAN guarantees only keys present throughout).
 */
export async function unlinkNamespace(client: Redis | Cluster, namespace: string): Promise<number> {
  const pattern = `${escapeGlob(namespace)}:*`
  const nodes = 'nodes' in client && typeof client.nodes === 'function' ? client.nodes('master') : [client]
  let removed = 0
  for (const node of nodes as Redis[]) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
      cursor = next
      // One UNLINK per key keeps every command single-slot on a Cluster.
      if (keys.length > 0) {
        const pipeline = node.pipeline()
        for (const key of keys) pipeline.unlink(key)
        const replies = (await pipeline.exec()) ?? []
        for (const [error, count] of replies) if (!error) removed += Number(count)
      }
    } while (cursor !== '0')
  }
  return removed
}
