import type { Cluster, Redis } from 'ioredis'
import { valueWithin } from '../../core/timeouts.js'

/** Parses the text of Redis INFO (`field:value` lines, `# Section` headers) into a flat record. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return fields
}

/** The Redis INFO figures operators look at. */
export interface RedisFigures {
  version?: string
  uptimeSeconds?: number
  usedMemory?: number
  usedMemoryHuman?: string
  maxMemory?: number
  evictedKeys?: number
  connectedClients?: number
  opsPerSec?: number
  keyspaceHits?: number
  keyspaceMisses?: number
  /** DBSIZE of the database the client uses (every key, not only the cache's). */
  dbSize?: number
}

const number = (value: string | undefined) => (value === undefined ? undefined : Number(value))

/**
 * Reads INFO and DBSIZE within `timeoutMs`, for the admin API and the metrics; resolves undefined
 * when the client is not ready or Redis does not answer in time (a scrape must never hang).
 */
export async function readRedisFigures(
  redis: Redis | Cluster,
  timeoutMs: number,
): Promise<RedisFigures | undefined> {
  if (redis.status !== 'ready') return undefined
  const read = (async () => {
    const [info, dbSize] = await Promise.all([redis.info(), redis.dbsize()])
    const fields = parseInfo(info)
    return {
      version: fields.redis_version,
      uptimeSeconds: number(fields.uptime_in_seconds),
      usedMemory: number(fields.used_memory),
      usedMemoryHuman: fields.used_memory_human,
      maxMemory: number(fields.maxmemory),
      evictedKeys: number(fields.evicted_keys),
      connectedClients: number(fields.connected_clients),
      opsPerSec: number(fields.instantaneous_ops_per_sec),
      keyspaceHits: number(fields.keyspace_hits),
      keyspaceMisses: number(fields.keyspace_misses),
      dbSize,
    }
  })()
  return valueWithin(read, timeoutMs)
}
