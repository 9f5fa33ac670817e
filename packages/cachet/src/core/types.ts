/**
 * The contracts between cachet's parts: the entry envelope, the two tiers, the codec.
 * The engine (src/core/cache.ts) composes these; tiers know nothing of policy.
 */

/** A cached value and what cachet knows about it. Times are epoch milliseconds. */
export interface Entry<T = unknown> {
  value: T
  /** When the value was produced. */
  createdAt: number
  /** Until then the value is fresh: served without any refresh. */
  freshUntil: number
  /** Until then a stale value may still be served (grace: fail-safe, stale-while-revalidate). >= freshUntil. */
  staleUntil: number
  /** Tags given when the value was stored. */
  tags: readonly string[]
  /**
   * 16 lowercase hex characters that identify this write. The Redis conditional write compares it
   * (ghost-write guard, docs/reliability.md E4): a loader only writes back if the key still holds the
   * version it saw before it started.
   */
  version: string
  /** How long the loader took, in ms (0 when unknown); feeds probabilistic early refresh (XFetch). */
  loadMs: number
  /**
   * Set on an L1 copy that may have missed an invalidation (the bus reported a gap): its freshUntil was
   * cut to that moment, so it is never served as fresh, but it is kept as the fail-safe copy.
   */
  suspect?: boolean
}

/**
 * What a Redis key of ours holds, once decoded: a live entry, a tombstone left by an invalidation
 * (it carries only a version), or nothing.
 */
export type Stored<T = unknown> =
  | { kind: 'entry'; entry: Entry<T> }
  | { kind: 'tombstone'; version: string }
  | { kind: 'absent' }

/** Turns values into bytes and back. Implementations: JSON (type-preserving), msgpack, or your own. */
export interface Serializer {
  /** Stable id stored in the header byte: 0..3 (0 json, 1 json with revived types, 2 msgpack, 3 custom). */
  readonly id: number
  serialize(value: unknown): Buffer
  deserialize(bytes: Buffer): unknown
}

/** Compression settings, resolved. */
export interface CompressionOptions {
  /** Compress payloads larger than this many bytes. */
  threshold: number
  algorithm: 'gzip' | 'brotli'
  /** gzip: 1..9; brotli: 0..11. */
  level: number
}

/** The in-process tier (L1). Synchronous: a hit costs no promise hop. */
export interface L1Tier {
  get(key: string): Entry | undefined
  /** Stores a decoded entry whose encoded size is `bytes` (used for the byte bound). */
  set(key: string, entry: Entry, bytes: number): void
  delete(key: string): boolean
  /** Drops every entry carrying one of these tags; returns how many were dropped. */
  deleteByTags(tags: readonly string[]): number
  /** Drops every entry whose full key matches; returns how many were dropped. */
  deleteWhere(match: (key: string) => boolean): number
  clear(): void
  /** Makes every entry suspect (see Entry.suspect): none is fresh any more, all are kept. */
  markSuspect(now: number): void
  readonly size: number
  readonly bytes: number
  readonly maxBytes: number
}

/** One item of a batch write to L2. */
export interface L2Write {
  key: string
  bytes: Buffer
  ttlMs: number
  tags: readonly string[]
  /**
   * Conditional write: only if the key still holds this version. `null` = only if the key holds
   * nothing. `undefined` = unconditional (an explicit set()).
   */
  ifVersion?: string | null
}

/** What L2Tier.describe() tells of one key. */
export interface KeyDescription {
  type: string
  /** Remaining TTL in ms; undefined when none or absent. */
  pttl?: number
  /** MEMORY USAGE in bytes. */
  bytes?: number
  /** Strings only: whether the key holds a tombstone left by an invalidation. */
  tombstone?: boolean
  /** Strings holding a cachet entry: when it stops being fresh, and when it stops being served stale (ms). */
  freshUntil?: number
  staleUntil?: number
}

/**
 * The Redis tier (L2). Keys here are full Redis keys (prefix included). Every method is bounded by
 * the command deadline and the circuit breaker: it rejects with L2Error rather than hang.
 */
export interface L2Tier {
  get(key: string): Promise<Buffer | undefined>
  getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]>
  /** Writes one entry (tags indexed first). Resolves false when a condition (ifVersion) failed. */
  set(write: L2Write): Promise<boolean>
  setMany(writes: readonly L2Write[]): Promise<boolean[]>
  /**
   * Invalidates keys: each becomes a tombstone (`tombstone` bytes, kept `ttlMs`) so a loader that
   * started earlier cannot write its older value back. Resolves how many held a live entry.
   */
  invalidate(keys: readonly string[], tombstone: (key: string) => Buffer, ttlMs: number): Promise<number>
  /** Invalidates every key indexed under these tags, in batches; bumps each tag's epoch. */
  invalidateTags(tags: readonly string[], tombstone: (key: string) => Buffer, ttlMs: number): Promise<number>
  /** Current epoch of each tag (0 when never invalidated). */
  tagEpochs(tags: readonly string[]): Promise<number[]>
  /** SCAN (every master on a Cluster) + UNLINK of keys matching a full glob pattern. Resolves the count. */
  deleteByPattern(pattern: string): Promise<number>
  /** SCAN + count only (dry runs, admin). */
  countByPattern(pattern: string, sampleSize?: number): Promise<{ count: number; sample: string[] }>
  /** Remaining TTL in ms; undefined when the key does not exist or has no TTL. */
  pttl(key: string): Promise<number | undefined>
  /**
   * One page of a SCAN over a full glob pattern. The cursor is opaque ('0' to start, '0' when done);
   * on a Cluster it walks every master in turn.
   */
  scanPage(pattern: string, cursor: string, count: number): Promise<{ keys: string[]; cursor: string }>
  /** Redis type, remaining TTL, MEMORY USAGE and, for strings, what their envelope head says. */
  describe(keys: readonly string[]): Promise<KeyDescription[]>
  /** PING round trip in ms. */
  ping(): Promise<number>
  /** INFO fields the health check and metrics read (used_memory, maxmemory, evicted_keys, …). */
  info(): Promise<Record<string, string>>
  /** The Redis key of a tag's index: a zset of full entry keys scored by staleUntil (docs/architecture.md). */
  tagKey(tag: string): string
}
