import type { RedisFigures } from './cache-api.js'

const number = (value: string | undefined) => (value === undefined ? undefined : Number(value))

/** The figures operators look at, from Redis INFO fields and DBSIZE. */
export function figuresFrom(fields: Record<string, string>, dbSize: number | undefined): RedisFigures {
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
}
