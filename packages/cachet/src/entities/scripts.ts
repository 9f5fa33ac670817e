import type { Cluster, Redis, Result } from 'ioredis'

/**
 * Version-checked writes of entity hashes (ANCHORS §D item 8): a stale stream event or a slow fallback
 * load can never overwrite newer data. Single-key scripts, so they work on a Cluster.
 */
const SCRIPTS = {
  /**
   * KEYS[1] entity hash; ARGV: version ('' = unconditional), ttl ms, then field, value pairs.
   * Refused (0) when the stored version is newer, or equal and the hash is a tombstone (a delete wins
   * against an update of the same version). Replaces the whole hash so removed fields disappear.
   */
  cachetEntitySet: `
local key = KEYS[1]
local version = ARGV[1]
if version ~= '' then
  local current = redis.call('HMGET', key, '__v', '__del')
  if current[1] then
    local stored = tonumber(current[1]) or 0
    local incoming = tonumber(version)
    if incoming < stored or (current[2] and incoming == stored) then return 0 end
  end
else
  version = '0'
end
redis.call('DEL', key)
redis.call('HSET', key, '__v', version, unpack(ARGV, 3))
redis.call('PEXPIRE', key, ARGV[2])
return 1`,

  /**
   * KEYS[1] entity hash; ARGV: version, ttl ms. Replaces the hash with a tombstone { __v, __del } unless
   * the stored version is newer, so a late 'updated' event cannot resurrect a deleted entity.
   */
  cachetEntityDelete: `
local key = KEYS[1]
local stored = redis.call('HGET', key, '__v')
if stored and tonumber(ARGV[1]) < (tonumber(stored) or 0) then return 0 end
redis.call('DEL', key)
redis.call('HSET', key, '__v', ARGV[1], '__del', '1')
redis.call('PEXPIRE', key, ARGV[2])
return 1`,
} as const

declare module 'ioredis' {
  interface RedisCommander<Context> {
    cachetEntitySet(key: string, version: string, ttlMs: number, ...fields: string[]): Result<number, Context>
    cachetEntityDelete(key: string, version: string, ttlMs: number): Result<number, Context>
  }
}

const REGISTERED = Symbol.for('cachet.entity-scripts')

/** Registers the entity scripts on a client once (names are prefixed, so a user's client is safe). */
export function defineEntityScripts(client: Redis | Cluster): void {
  const marked = client as unknown as Record<symbol, boolean>
  if (marked[REGISTERED]) return
  for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua })
  marked[REGISTERED] = true
}
