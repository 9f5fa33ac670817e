import type { Cluster, Redis } from 'ioredis'

/**
 * cachet's Lua scripts. Each touches one key, or an entry and its lock, which share a Cluster slot
 * (sync/lock.ts), so each works on a Cluster. They are registered with ioredis defineCommand, which
 * sends EVALSHA and falls back to EVAL on NOSCRIPT (also in pipelines).
 */
/**
 * Sets `live`: 1 when KEYS[1] exists and is not a tombstone. Only strings are read (GETRANGE on a hash
 * would fail the script): a hash or list under the prefix (e.g. the entity cache's) counts as live.
 */
const LIVE = `
local live = 0
local kind = redis.call('TYPE', key)['ok']
if kind ~= 'none' then
  live = 1
  if kind == 'string' then
    local first = redis.call('GETRANGE', key, 0, 0)
    if first ~= '' then
      local b = string.byte(first)
      if math.floor(b / 32) == 1 and math.floor(b / 16) % 2 == 1 then live = 0 end
    end
  end
end`

export const SCRIPTS = {
  /**
   * Conditional write. KEYS[1] entry; ARGV: bytes, ttl ms, expected version ('' = key must be absent).
   * The version is bytes 1-16 of the envelope. Returns 1 when written, 0 when the condition failed.
   */
  cachetSetIf: `
local key = KEYS[1]
if ARGV[3] == '' then
  if redis.call('EXISTS', key) == 1 then return 0 end
elseif redis.call('GETRANGE', key, 1, 16) ~= ARGV[3] then
  return 0
end
redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
return 1`,

  /**
   * Read for a load. KEYS[1] entry, KEYS[2] its lock; ARGV: token, lock ttl ms, now ms ('' = lock
   * whatever the entry holds). Returns {entry bytes or nil, state}: 0 = a live entry fresh at `now`
   * (freshUntil is the float64 at bytes 26-33), lock not tried; 1 = lock taken; 2 = another holds it.
   */
  cachetReadOrLock: `
local value = redis.call('GET', KEYS[1])
if value and ARGV[3] ~= '' and string.len(value) >= 33 then
  local b = string.byte(value, 1)
  if math.floor(b / 32) == 1 and math.floor(b / 16) % 2 == 0 then
    if struct.unpack('>d', value, 26) > tonumber(ARGV[3]) then return {value, 0} end
  end
end
if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return {value or false, 1} end
return {value or false, 2}`,

  /**
   * Conditional write that releases the stampede lock. KEYS[1] entry, KEYS[2] lock; ARGV: bytes, ttl ms,
   * expected version ('' = key must be absent), lock token. The lock is released whether or not the
   * condition held. Returns 1 when written, 0 when the condition failed.
   */
  cachetSetIfRelease: `
local key = KEYS[1]
local written = 0
local ok
if ARGV[3] == '' then
  ok = redis.call('EXISTS', key) == 0
else
  ok = redis.call('GETRANGE', key, 1, 16) == ARGV[3]
end
if ok then
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  written = 1
end
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return written`,

  /**
   * Invalidation of one key. KEYS[1] entry; ARGV: tombstone bytes, ttl ms. Leaves the tombstone and
   * returns 1 when the key held a live entry. A tombstone is a cachet format byte (bits 5-7 = envelope
   * version 1) with bit 4 set; any other string (a live entry, a foreign value) counts as live.
   * A key of another type (a hash, a stream: the entity cache's, or the replaced system's) is not an entry:
   * it is left alone and counts 0, on key, tag and pattern invalidation alike.
   * A tombstone that replaced a live entry carries one byte more (readers look at bytes 0-16 only), so a
   * repeat of this very call (the same tombstone: its first try landed, its reply was lost) answers
   * what the first try found instead of 0.
   */
  cachetInvalidate: `
local key = KEYS[1]
${LIVE}
if kind ~= 'string' and kind ~= 'none' then return 0 end
if kind == 'string' and live == 0 and redis.call('GETRANGE', key, 1, 16) == string.sub(ARGV[1], 2, 17) then
  if redis.call('STRLEN', key) > string.len(ARGV[1]) then return 1 end
  return 0
end
local tombstone = ARGV[1]
if live == 1 then tombstone = tombstone .. '+' end
redis.call('SET', key, tombstone, 'PX', ARGV[2])
return live`,

  /**
   * Deletion of one key (UNLINK), for pattern deletes and clear. KEYS[1] any key; returns 1 when it held
   * a live entry, 0 for a tombstone or nothing, so counts say how many values were removed.
   */
  cachetDelete: `
local key = KEYS[1]
${LIVE}
redis.call('UNLINK', key)
return live`,

  /**
   * Tag index add. KEYS[1] tag zset; ARGV: score (the member's expiry, ms), member, now (ms).
   * Adds the member, prunes members already expired, and keeps the set's TTL at least as long as its
   * longest-lived member, in one atomic step: a tag set never lacks a TTL (docs/reliability.md M3).
   */
  cachetTagAdd: `
local key = KEYS[1]
local now = tonumber(ARGV[3])
redis.call('ZADD', key, ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[3])
local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if top[2] == nil then return 0 end
local ttl = math.max(1, math.ceil(tonumber(top[2]) - now))
local current = redis.call('PTTL', key)
if current < 0 or current < ttl then redis.call('PEXPIRE', key, ttl) end
return 1`,

  /**
   * Tag epoch bump. KEYS[1] epoch key; ARGV: now (ms), ttl ms. INCR when the key exists; otherwise starts
   * at `now`, so an epoch that expired and restarts never repeats a value a reader may still hold.
   * Returns the new epoch.
   */
  cachetEpochBump: `
local key = KEYS[1]
local epoch
if redis.call('EXISTS', key) == 1 then
  epoch = redis.call('INCR', key)
else
  epoch = tonumber(ARGV[1])
  redis.call('SET', key, epoch)
end
redis.call('PEXPIRE', key, ARGV[2])
return epoch`,

  /** Lock release (compare-and-delete). KEYS[1] lock; ARGV: token. Returns 1 when deleted. */
  cachetLockRelease: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,

  /** Lock renewal (compare-and-pexpire). KEYS[1] lock; ARGV: token, ttl ms. Returns 1 when renewed. */
  cachetLockRenew: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,

  /** Liveness, read only. KEYS[1] any key; returns 1 when it holds a live entry (see LIVE), else 0. */
  cachetLive: `
local key = KEYS[1]
${LIVE}
return live`,

  /**
   * Soft expiry of one entry (invalidateTags mode 'expire'). KEYS[1] entry; ARGV: now (ms), now as
   * 8 bytes of float64 big-endian. When the key holds a live cachet entry (envelope version 1, not a
   * tombstone), its freshUntil (bytes 25-32) is cut to now if it was later; staleUntil, the value, the
   * version and the key's TTL are kept, so the entry is still served as a fail-safe copy. Returns 1 for
   * a live entry, 0 for anything else (absent, tombstone, foreign value, another type).
   */
  cachetSoftExpire: `
local key = KEYS[1]
if redis.call('TYPE', key)['ok'] ~= 'string' then return 0 end
local head = redis.call('GETRANGE', key, 0, 40)
if string.len(head) < 41 then return 0 end
local b = string.byte(head, 1)
if math.floor(b / 32) ~= 1 or math.floor(b / 16) % 2 == 1 then return 0 end
local fresh = struct.unpack('>d', string.sub(head, 26, 33))
if fresh > tonumber(ARGV[1]) then redis.call('SETRANGE', key, 25, ARGV[2]) end
return 1`,
} as const

/** Scripts that take an entry and its lock (two keys); all others take one. */
const TWO_KEYS: ReadonlySet<string> = new Set(['cachetReadOrLock', 'cachetSetIfRelease'])

/** The name of one of cachet's scripts, usable as a command on a client or pipeline after defineScripts(). */
export type ScriptName = keyof typeof SCRIPTS

type Arg = string | Buffer | number

/** A client with cachet's scripts registered as commands. */
export type ScriptedClient = (Redis | Cluster) & {
  [name in ScriptName]: (key: string, ...args: Arg[]) => Promise<number>
} & {
  cachetReadOrLockBuffer(key: string, lock: string, ...args: Arg[]): Promise<[Buffer | null, number]>
}

const REGISTERED = Symbol.for('cachet.scripts')

/** Registers cachet's scripts on a client (once; safe on a client the user passed in: names are prefixed). */
export function defineScripts(client: Redis | Cluster): ScriptedClient {
  const marked = client as unknown as Record<symbol, boolean>
  if (!marked[REGISTERED]) {
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      client.defineCommand(name, { numberOfKeys: TWO_KEYS.has(name) ? 2 : 1, lua })
    }
    marked[REGISTERED] = true
  }
  return client as ScriptedClient
}
