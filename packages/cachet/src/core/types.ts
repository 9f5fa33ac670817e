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
  /** What the source said of this value (ETag, Last-Modified), handed back to the loader on refresh. */
  meta?: EntryMeta
}

/** Validators a loader stored with its value, for a conditional refresh (docs/conditional-refresh.md). */
export interface EntryMeta {
  etag?: string
  /** Epoch milliseconds. */
  lastModified?: number
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
  /**
   * Stores a decoded entry whose encoded size is `bytes` (used for the byte bound), kept at most
   * `maxTtlMs` when given (a per-entry l1Ttl), never longer than the tier's own maxTtl.
   */
  set(key: string, entry: Entry, bytes: number, maxTtlMs?: number): void
  delete(key: string): boolean
  /** Drops every entry carrying one of these tags; returns how many were dropped. */
  deleteByTags(tags: readonly string[]): number
  /** Keys of the live entries (fresh or within grace) carrying `tag`. */
  keysByTag(tag: string): string[]
  /** Ends the freshness of every entry carrying one of these tags, grace kept; returns how many. */
  expireByTags(tags: readonly string[], now: number): number
  /** Drops every entry whose full key matches; returns how many were dropped. */
  deleteWhere(match: (key: string) => boolean): number
  clear(): void
  /** Makes every entry suspect (see Entry.suspect): none is fresh any more, all are kept. */
  markSuspect(now: number): void
  /**
   * Makes the key's entry suspect. Answers a ticket with which confirmKey can make it fresh again,
   * with the freshness it had, until anything else changes that copy or suspects it again; undefined
   * when there is no copy, or a gap made it suspect (only a read of Redis confirms those).
   */
  markKeySuspect(key: string, now: number): SuspectCopy | undefined
  /** Ends the suspicion the ticket stands for; false when the ticket has lapsed. */
  confirmKey(key: string, copy: SuspectCopy): boolean
  readonly size: number
  readonly bytes: number
  readonly maxBytes: number
}

/** What an entry's envelope head says: its version and lifetimes (ms). */
export interface EntryHead {
  version: string
  freshUntil: number
  staleUntil: number
}

/** A copy made suspect by markKeySuspect, and the freshness it had (see L1Tier.confirmKey). */
export interface SuspectCopy {
  readonly entry: Entry
  readonly freshUntil: number
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
  /** A lock (sharing the entry's slot) that the write releases in the same script when it holds `token`. */
  unlock?: { key: string; token: string }
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
  /** The version and lifetimes of the live entry under the key (one GETRANGE of its head); undefined when there is none. */
  entryHead(key: string): Promise<EntryHead | undefined>
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
  /** DBSIZE (summed over a Cluster's masters). */
  dbSize(): Promise<number>
  /**
   * One page of the live entries indexed under a tag (full keys). The cursor is opaque ('0' to start,
   * '0' when done); a page may be shorter than `count`, even empty, before the end.
   */
  tagPage(tag: string, cursor: string, count: number): Promise<{ keys: string[]; cursor: string }>
  /** How many live entries a tag indexes (what invalidateTags would count). */
  tagCount(tag: string): Promise<number>
  /**
   * Soft purge: the live entries of these tags stop being fresh at `now` and stay stale until their
   * staleUntil; the indexes are kept and the epochs move. Resolves how many live entries were reached.
   */
  expireTags(tags: readonly string[], now: number): Promise<number>
  /** This tier for a call that may be repeated (core/retry.ts); absent: calls are never repeated. */
  repeatable?(): RepeatableL2
}

/**
 * The same tier, except that a failure does not count towards opening the circuit breaker: the caller
 * may repeat the call, and reports only its final failure with `failed` (counted once).
 */
export interface RepeatableL2 {
  tier: L2Tier
  failed(error: unknown): void
}

/** A stampede lock this process holds. */
export interface LockHandle {
  /** The Redis key of the lock. */
  readonly key: string
  /** The random value stored in the lock key; only its holder can renew or release it. */
  readonly token: string
  /** Whether the lock shares its entry's Cluster slot (so the write script can release it). */
  readonly colocated: boolean
  /** Stops renewal: the lock was released by the write that stored the entry. */
  settled(): void
  /** Stops renewal and deletes the lock if it is still ours. Never throws. */
  release(): Promise<void>
}

/** What a read made for a load found: the entry's bytes, and whether the lock was taken. */
export interface LockingRead {
  bytes: Buffer | undefined
  /** The lock now held; 'held' when another holds it; 'not-tried' when the entry was fresh. */
  lock: LockHandle | 'held' | 'not-tried'
}

/** The cross-process stampede lock (implemented on Redis by sync/lock.ts). */
export interface StampedeLock {
  /** Reads an entry and takes the lock on it unless it is fresh at `now` (always, when `force`). */
  readOrLock(key: string, fullKey: string, now: number, force: boolean): Promise<LockingRead>
  /** Tries once to take the lock; undefined when another process holds it. */
  acquire(key: string): Promise<LockHandle | undefined>
  /** Stops renewing every lock held. */
  close(): void
}

/** An L1 invalidation: full Redis keys ('set', 'del'), tags ('tags'), a full glob ('pattern'), or all ('clear'). */
export interface BusMessage {
  t: 'set' | 'del' | 'tags' | 'pattern' | 'clear'
  k: string[]
}

/** What the engine needs of the invalidation bus (implemented on Redis pub/sub by sync/bus.ts). */
export interface InvalidationBus {
  publish(message: BusMessage): void
  close(): Promise<void>
}

/**
 * Changes Redis could not take while it was unreachable, replayed in order once it answers
 * (implemented by core/pending-invalidations.ts). Keys are full keys; patterns relative to the prefix.
 */
export interface RecoveryQueue {
  readonly size: number
  addKeys(keys: readonly string[]): void
  addTags(tags: readonly string[]): void
  addPattern(pattern: string): void
  addClear(): void
  flush(): Promise<void>
  close(): void
}

/** One own script write registered with TrackingSource.expectOwnWrite. */
export interface OwnWrite {
  readonly fullKey: string
  /** A report of the key was taken for this write. */
  readonly reported: boolean
}

/** Redis' own L1 invalidations (CLIENT TRACKING; implemented by sync/tracking.ts), as health shows them. */
export interface TrackingSource {
  readonly state: 'on' | 'connecting' | 'refused' | 'closed'
  /** Why Redis refused tracking, when it did. */
  readonly refusal: string | undefined
  /**
   * A script write of `fullKey` by this instance is about to be sent. Redis 7.0 reports a key a
   * script writes to the writer too, despite NOLOOP (docs/architecture.md): registered, the next
   * report of the key makes the writer's copy suspect rather than dropping it (the report may also
   * stand for another client's write in the same Redis turn: Redis sends one report for both).
   * Reports are taken by the registered writes of a key oldest first. Undefined when nothing was
   * registered (tracking off, or a server that keeps NOLOOP for scripts).
   */
  expectOwnWrite(fullKey: string): OwnWrite | undefined
  /**
   * A registered write that was not applied, or whose outcome is unknown: its report will not come
   * (or, if it lands later, drops the copy as any report does). False when a report had already been
   * taken for it: that report was another writer's, so the copy must go.
   */
  withdrawOwnWrite(write: OwnWrite): boolean
  /**
   * A registered write Redis applied: once every report sent before its reply has arrived, its
   * registration is withdrawn if no report took it (a later write of the key by this very connection,
   * in the same Redis turn, can take its report away: the next one must count as another writer's).
   * Later writes of the same key keep theirs.
   */
  ownWriteLanded(write: OwnWrite): void
  close(): Promise<void>
}

/** What the masters of a Redis Cluster say of it (tiers/redis/cluster-state.ts asks them). */
export interface ClusterState {
  /** Masters asked. */
  masters: number
  /** Masters that did not answer within the deadline. */
  silent: number
  /** Masters answering `cluster_state:fail`: they refuse every command with CLUSTERDOWN. */
  failing: number
}

/** The server settings the start-up advisor judges (docs/advisor.md). */
export interface RedisSettings {
  /** Bytes; 0 = unbounded. */
  maxMemory: number
  /** maxmemory-policy, e.g. 'allkeys-lru', 'noeviction', 'volatile-ttl'. */
  evictionPolicy: string
  /** appendonly yes. */
  aof: boolean
  /** The RDB `save` schedule ('' = no snapshots); undefined when CONFIG GET is not allowed (managed Redis, ACL). */
  rdbSave?: string
}
