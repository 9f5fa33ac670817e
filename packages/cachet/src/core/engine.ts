import type { Logger } from 'pino'
import { Bulkhead } from './bulkhead.js'
import type { LockResult } from './cache-api.js'
import type { LoadAudience } from './cancel.js'
import type { Codec } from './codec/envelope.js'
import { decodedSize, newVersion } from './codec/envelope.js'
import type { Emitter } from './emitter.js'
import { CacheClosedError, SerializationError } from './errors.js'
import { compileGlob } from './glob.js'
import { type CallContext, type ResolvedOptions, resolveCall } from './options.js'
import { L2Retry } from './retry.js'
import { Stats } from './stats.js'
import type { TtlPolicy } from './ttl-policy.js'
import type {
  BusMessage,
  ClusterState,
  Entry,
  InvalidationBus,
  L1Tier,
  L2Tier,
  RecoveryQueue,
  StampedeLock,
  Stored,
  SuspectCopy,
  TrackingSource,
} from './types.js'

/** A load in flight for one key; an invalidation meanwhile flags it so its result is not cached. */
export interface Inflight {
  promise: Promise<unknown>
  tags: readonly string[]
  invalidated: boolean
  /** Who waits for it, when its leader gave a signal (core/cancel.ts). */
  audience?: LoadAudience
}

/** What an L2 read gave: the decoded content, its decoded size, and the version the key held. */
export class L2Read {
  constructor(
    readonly stored: Stored,
    readonly bytes: number,
    readonly raw?: Buffer,
  ) {}

  /**
   * What a conditional write must find in bytes 1..16 (the Lua guard compares them whatever the key
   * holds: an entry, a tombstone, a legacy or corrupt value); null when the key was absent. Computed
   * only when asked: a hit never needs it.
   */
  get version(): string | null {
    return this.raw ? this.raw.subarray(1, 17).toString('latin1') : null
  }
}

/** The parts one engine is made of; shared by a cache and all its namespaces. */
export interface EngineParts {
  options: ResolvedOptions
  codec: Codec
  policy: TtlPolicy
  emitter: Emitter
  logger: Logger
  l1?: L1Tier
  l2?: L2Tier
  lock?: StampedeLock
}

/**
 * The shared state and primitives of the engine: tier reads and writes, envelope building,
 * invalidation fan-out (L1, L2, bus), background work. Keys here are relative to the prefix.
 */
export class Engine {
  readonly options: ResolvedOptions
  readonly codec: Codec
  readonly policy: TtlPolicy
  readonly emitter: Emitter
  readonly logger: Logger
  readonly l1?: L1Tier
  readonly l2?: L2Tier
  readonly lock?: StampedeLock
  readonly stats = new Stats()
  readonly inflight = new Map<string, Inflight>()
  /** Keys whose loader failed recently: stale values are served until then (grace backoff). */
  readonly failedUntil = new Map<string, number>()
  readonly lockWaiters = new Map<string, Set<() => void>>()
  /** The loader bulkhead (maxConcurrentLoads). */
  readonly loads: Bulkhead
  readonly tombstoneTtlMs: number
  /** The context of a call made without options (resolved once). */
  readonly defaultCall: CallContext
  bus?: InvalidationBus
  /** Redis' own invalidations (CLIENT TRACKING), when l1.invalidation asks for them. */
  tracking?: TrackingSource
  pending?: RecoveryQueue
  /** On a Cluster: what its masters say of it (health() folds it in: a cluster that is down is unhealthy). */
  clusterState?: () => Promise<ClusterState>
  /** The L2 circuit breaker's state (closed when there is no L2). */
  circuitState: () => 'closed' | 'open' | 'half-open' = () => 'closed'
  /** What the connection last said, for health(). */
  readonly redisState: {
    connected: boolean
    lastSeen?: number
    /** Errors already logged since Redis was last ready (each is logged once). */
    warned: Set<string>
  } = { connected: false, warned: new Set() }
  closed = false
  /** L2 reads in flight per key, and the invalidation count at the key's last invalidation meanwhile. */
  readonly #reads = new Map<string, { count: number; invalidatedAt: number }>()
  /** Counts invalidations received, so a read can tell whether one overtook it. */
  #invalidations = 0
  /** Entries decoded from a reply an invalidation overtook: the caller gets them, L1 never keeps them. */
  readonly #overtaken = new WeakSet<object>()
  #background = new Set<Promise<unknown>>()
  #keyPrefix: string
  /** Repeats L2 calls safe to repeat after a transient fault (l2.retry); undefined when off. */
  readonly #retry: L2Retry | undefined

  constructor(parts: EngineParts) {
    this.options = parts.options
    this.codec = parts.codec
    this.policy = parts.policy
    this.emitter = parts.emitter
    this.logger = parts.logger
    this.l1 = parts.l1
    this.l2 = parts.l2
    this.lock = parts.lock
    this.#keyPrefix = `${parts.options.prefix}:`
    this.loads = new Bulkhead(parts.options.maxConcurrentLoads)
    this.defaultCall = resolveCall(parts.options, {})
    const retry = parts.options.l2.retry
    this.#retry = retry && retry.attempts > 1 ? new L2Retry(this, retry) : undefined
    // A tombstone must outlive any loader that started before the invalidation (docs/architecture.md).
    const longestLoad = Math.min(parts.options.hardTimeoutMs, 10 * 60_000)
    this.tombstoneTtlMs = Math.max(
      60_000,
      2 * longestLoad,
      2 * (parts.options.lock ? parts.options.lock.ttlMs : 0),
    )
  }

  fullKey(key: string): string {
    return this.#keyPrefix + key
  }

  /** The key relative to the prefix, or undefined for a key that is not ours. */
  relativeKey(full: string): string | undefined {
    return full.startsWith(this.#keyPrefix) ? full.slice(this.#keyPrefix.length) : undefined
  }

  assertOpen(): void {
    if (this.closed) throw new CacheClosedError('the cache was closed; create a new one')
  }

  /** Builds an entry for a value about to be stored, with the call's resolved options. */
  makeEntry<T>(
    key: string,
    value: T,
    call: Pick<CallContext, 'ttlMs' | 'graceMs' | 'tags' | 'adaptive'>,
    loadMs = 0,
  ): Entry<T> {
    const now = Date.now()
    const freshMs = this.policy.freshMs(key, {
      ttlMs: call.ttlMs,
      loadMs: loadMs > 0 ? loadMs : undefined,
      adaptive: call.adaptive,
    })
    return {
      value,
      createdAt: now,
      freshUntil: now + freshMs,
      staleUntil: now + freshMs + call.graceMs,
      tags: call.tags,
      version: newVersion(),
      loadMs: Math.round(loadMs),
    }
  }

  /**
   * Encodes an entry; a value that cannot be serialized becomes a SerializationError naming the key.
   * Undefined for a value too large for either tier: it is handed to the callers but stored nowhere.
   */
  encode(key: string, entry: Entry): Buffer | undefined {
    try {
      if (this.codec.oversized(entry.value)) return undefined
      return this.codec.encode(entry)
    } catch (error) {
      if (error instanceof SerializationError) throw error
      throw new SerializationError(
        `the value for key '${key}' cannot be serialized: ${(error as Error).message}`,
        {
          key,
          cause: error,
        },
      )
    }
  }

  /**
   * Puts the decoded copy of `bytes` in L1 and returns its value: every caller gets that one frozen
   * copy, never the object a loader returned (which its owner may still mutate). `l1TtlMs`: the
   * call's l1Ttl, if it gave one.
   */
  putL1<T>(key: string, bytes: Buffer | undefined, fallback: Entry<T>, l1TtlMs?: number): T {
    if (!bytes) return fallback.value
    const size = decodedSize(bytes)
    if (!this.l1 || size > (this.options.l1 ? this.options.l1.maxEntryBytes : 0)) return fallback.value
    const copy = this.codec.decode(bytes)
    if (copy.kind !== 'entry') return fallback.value
    this.l1.set(key, copy.entry, size, this.policy.l1Ms(key, l1TtlMs))
    return copy.entry.value as T
  }

  /**
   * Keeps an entry freshly decoded from L2 in L1 (it is nobody else's object, so no copy is needed)
   * and returns its value, now frozen by L1. `l1TtlMs`: the call's l1Ttl, if it gave one.
   */
  keepL1<T>(key: string, entry: Entry<T>, bytes: number, l1TtlMs?: number): T {
    if (this.#overtaken.has(entry)) return entry.value
    if (this.l1 && bytes <= (this.options.l1 ? this.options.l1.maxEntryBytes : 0))
      this.l1.set(key, entry, bytes, this.policy.l1Ms(key, l1TtlMs))
    return entry.value
  }

  /** A tombstone with a fresh version: any loader that captured an older one can no longer write. */
  tombstone = (): Buffer => this.codec.encodeTombstone(newVersion())

  /**
   * The one place an L2 failure is handled. Runs `work` on L2 (every Redis call in it is bounded by the
   * guard's deadline and circuit breaker); a failure is counted and logged here, `recover` queues the
   * change for replay once Redis answers, and the caller gets undefined: no caller writes its own
   * try/catch around Redis, and none sees an L2 error. A call safe to repeat is repeated here after a
   * transient fault (core/retry.ts), so only its final failure reaches this catch.
   */
  attempt<T>(
    operation: string,
    work: (l2: L2Tier) => Promise<T>,
    key?: string,
    recover?: (queue: RecoveryQueue) => void,
  ): Promise<T | undefined> {
    const l2 = this.l2
    if (!l2) return Promise.resolve(undefined)
    const retry = this.#retry
    let running: Promise<T>
    try {
      running = retry?.covers(operation) ? retry.run(operation, work, l2, key) : work(l2)
    } catch (error) {
      running = Promise.reject(error)
    }
    // One then, not an async frame: this runs on every Redis call of the hit path.
    return running.then(undefined, (error: unknown) => {
      this.l2Failed(operation, error, key)
      if (recover && this.pending) recover(this.pending)
      return undefined
    })
  }

  /** Reads L2; undefined when L2 is absent or unavailable. */
  async readL2(key: string): Promise<L2Read | undefined> {
    if (!this.l2) return undefined
    let overtaken: L2Read | undefined
    // An invalidation that arrives while Redis answers may stand for a write Redis applied before
    // this read or after it. A second read, sent after the invalidation arrived, holds that write
    // either way; only if it is overtaken too is its reply handed over without being kept in L1.
    for (let round = 0; round < 2; round++) {
      const watched = this.watchRead([key])
      const bytes = await this.attempt('get', (l2) => l2.get(this.fullKey(key)).then(orAbsent), key)
      const raced = watched().size > 0
      if (bytes === undefined) return overtaken
      const read = this.decodeRead(key, bytes ?? undefined)
      if (!raced) return read
      if (read.stored.kind === 'entry') this.#overtaken.add(read.stored.entry)
      overtaken = read
    }
    return overtaken
  }

  /**
   * Watches an L2 read of these keys; the function returned, called once the reply is in, names the
   * keys an invalidation reached meanwhile. Their reply may predate the write the invalidation stands
   * for (Redis tracking and the bus deliver on another connection than the reply), so L1 must not
   * keep it: it would outlive the write by up to l1.maxTtl (docs/architecture.md, L1 coherence).
   */
  watchRead(keys: readonly string[]): () => Set<string> {
    const started = this.#invalidations
    for (const key of keys) {
      const read = this.#reads.get(key)
      if (read) read.count++
      else this.#reads.set(key, { count: 1, invalidatedAt: -1 })
    }
    return () => {
      const overtaken = new Set<string>()
      for (const key of keys) {
        const read = this.#reads.get(key)
        if (!read) continue
        if (read.invalidatedAt > started) overtaken.add(key)
        if (--read.count === 0) this.#reads.delete(key)
      }
      return overtaken
    }
  }

  /** An invalidation of one key, or of all (undefined), reached this instance: reads in flight are overtaken. */
  #overtakeReads(key?: string): void {
    const at = ++this.#invalidations
    if (key === undefined) for (const read of this.#reads.values()) read.invalidatedAt = at
    else {
      const read = this.#reads.get(key)
      if (read) read.invalidatedAt = at
    }
  }

  /** Decodes raw L2 bytes into what they hold and the version a conditional write must match. */
  decodeRead(key: string, bytes: Buffer | undefined): L2Read {
    if (!bytes) return new L2Read({ kind: 'absent' }, 0)
    try {
      return new L2Read(this.codec.decode(bytes), decodedSize(bytes), bytes)
    } catch (error) {
      this.logger.warn({ key, err: error }, 'cachet: unreadable entry in Redis treated as a miss')
      this.emitError('decode', error, key)
      return new L2Read({ kind: 'absent' }, bytes.length, bytes)
    }
  }

  /** Counts an L2 failure; the caller carries on without L2 (called by `attempt` only). */
  l2Failed(operation: string, error: unknown, key?: string): void {
    this.stats.l2Errors++
    this.emitError(operation, error, key)
    this.logger.debug({ key, operation, err: error }, 'cachet: redis operation failed')
  }

  emitError(operation: string, error: unknown, key?: string): void {
    this.stats.total.errors++
    if (key !== undefined) this.stats.scope(key).errors++
    if (this.emitter.has('error')) {
      this.emitter.emit('error', {
        key,
        operation,
        error: error instanceof Error ? error : new Error(String(error)),
      })
    }
  }

  /** Runs work off the request path; close() waits for it. Its failures are logged, never unhandled. */
  track(work: Promise<unknown>): void {
    this.#background.add(work)
    work.then(
      () => this.#background.delete(work),
      (error: unknown) => {
        this.#background.delete(work)
        this.logger.debug({ err: error }, 'cachet: background work failed')
      },
    )
  }

  async drain(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background])
  }

  publish(message: BusMessage): void {
    this.bus?.publish(message)
  }

  /** Flags loads in flight whose result an invalidation has made obsolete. */
  invalidateInflight(match: (key: string, record: Inflight) => boolean): void {
    for (const [key, record] of this.inflight) if (match(key, record)) record.invalidated = true
  }

  /** Wakes the callers waiting for another process to fill this key. */
  wake(key: string): void {
    const waiters = this.lockWaiters.get(key)
    if (!waiters) return
    this.lockWaiters.delete(key)
    for (const wake of waiters) wake()
  }

  /** Counts what a caller got from the stampede lock and emits it. */
  recordLock(key: string, result: LockResult): void {
    this.stats.locks[result]++
    if (this.emitter.has('lock')) this.emitter.emit('lock', { key, result })
  }

  /** Applies an invalidation message from another instance to this one's L1. */
  onBusMessage(message: BusMessage): void {
    if (message.t === 'clear') {
      this.l1?.clear()
      this.#overtakeReads()
      this.invalidateInflight(() => true)
      return
    }
    if (message.t === 'tags') {
      this.l1?.deleteByTags(message.k)
      this.invalidateInflight((_, record) => record.tags.some((tag) => message.k.includes(tag)))
      return
    }
    if (message.t === 'pattern') {
      for (const pattern of message.k) {
        const matchesFull = compileGlob(pattern)
        const matches = (key: string) => matchesFull(this.fullKey(key))
        this.l1?.deleteWhere(matches)
        this.invalidateInflight(matches)
      }
      return
    }
    for (const full of message.k) {
      const key = this.relativeKey(full)
      if (key === undefined) continue
      this.l1?.delete(key)
      this.#changedElsewhere(key, message.t === 'set')
    }
  }

  /** A key changed in Redis: reads in flight and loads of it must not keep what they got in L1. */
  #changedElsewhere(key: string, written: boolean): void {
    this.#overtakeReads(key)
    const record = this.inflight.get(key)
    if (record) record.invalidated = true
    // Callers waiting for another process's load of the key read Redis again.
    if (written) this.wake(key)
  }

  /**
   * Reports of keys this instance itself wrote from a script a moment ago (Redis 7.0 reports those to
   * their writer; core/types.ts, TrackingSource.expectOwnWrite). One report may also stand for another
   * client's write of the key in the same Redis turn, so each is handled as an invalidation, except
   * that L1's copy is kept as a suspect one: confirmed against Redis before it is served fresh again,
   * and the fail-safe copy meanwhile (a value loaded just before an outage is not lost).
   */
  onOwnWrites(fullKeys: readonly string[]): void {
    const now = Date.now()
    for (const full of fullKeys) {
      const key = this.relativeKey(full)
      if (key === undefined) continue
      const copy = this.l1?.markKeySuspect(key, now)
      this.#changedElsewhere(key, true)
      if (copy) this.#confirmOwnCopy(key, full, copy)
    }
  }

  /**
   * Asks Redis, in the background, what the key holds now (the report came after the write, so this
   * read comes after any other write the report may stand for): the copy's own version and lifetimes
   * make it fresh again, so the next read is an L1 hit rather than a read of Redis that, on a slow Redis,
   * would run the loader. A later report, a gap or any change to the copy voids the answer (confirmKey).
   */
  #confirmOwnCopy(key: string, full: string, copy: SuspectCopy): void {
    if (this.closed) return
    const confirming = this.attempt('confirm', (l2) => l2.entryHead(full), key).then((head) => {
      // Lifetimes too: a soft purge (or an expire) of another instance rewrites the entry in place,
      // version kept, and its report may be the one this instance took for its own write.
      const { entry, freshUntil } = copy
      if (
        head?.version === entry.version &&
        head.freshUntil === freshUntil &&
        head.staleUntil === entry.staleUntil
      ) {
        this.l1?.confirmKey(key, copy)
      }
    })
    this.track(confirming)
  }

  /**
   * A bus gap means messages may have been lost: every L1 entry becomes suspect. None is served as
   * fresh again until L2 confirms it (the next access reads L2), but each stays the fail-safe copy
   * when Redis cannot answer and the loader fails or is slow, so an outage never sends every request
   * to the source at once.
   */
  onBusGap(reason: string): void {
    this.l1?.markSuspect(Date.now())
    this.logger.warn({ reason }, 'cachet: invalidation bus gap, L1 entries suspect')
    if (this.emitter.has('l1-flush')) this.emitter.emit('l1-flush', { reason })
  }
}

/** null for an absent key, so that undefined can mean "L2 could not be read". */
function orAbsent(bytes: Buffer | undefined): Buffer | null {
  return bytes ?? null
}
