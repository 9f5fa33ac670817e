import type { Cluster, Redis } from 'ioredis'
import { type Duration, toMs } from '../core/duration.js'

/** Where a prewarmer keeps its cursor between processes. */
export interface PrewarmCursorStore {
  /** The saved cursor (index of the next batch) for this batch size; undefined when none. */
  load(batchSize: number): Promise<number | undefined>
  /** Saves the cursor; 0 (a completed run) removes it. */
  save(cursor: number, batchSize: number): Promise<void>
}

/**
 * A cursor kept in Redis under `key`, so a restarted process resumes a cancelled prewarm where it
 * stopped. It expires after `ttl` (default 1 h): an old cursor would skip batches of an id list that
 * has changed since. A cursor saved with another batch size is ignored (its index means other ids).
 */
export function redisCursorStore(
  redis: Redis | Cluster,
  key: string,
  options: { ttl?: Duration } = {},
): PrewarmCursorStore {
  const ttlMs = toMs(options.ttl ?? '1h', 'ttl')
  return {
    async load(batchSize) {
      const text = await redis.get(key)
      if (text === null) return undefined
      const [cursor, savedSize] = text.split('/').map(Number)
      return savedSize === batchSize && Number.isInteger(cursor) && cursor! > 0 ? cursor : undefined
    },
    async save(cursor, batchSize) {
      if (cursor === 0) await redis.del(key)
      else await redis.set(key, `${cursor}/${batchSize}`, 'PX', ttlMs)
    },
  }
}
