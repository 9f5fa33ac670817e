import { performance } from 'node:perf_hooks'
import type { Cluster, Redis } from 'ioredis'
import { isTombstone, readHead, readTimes, TIMES_HEAD_BYTES } from '../../core/codec/envelope.js'
import { InvalidKeyError } from '../../core/errors.js'
import type { EntryHead, KeyDescription, L2Tier, L2Write, RepeatableL2 } from '../../core/types.js'
import { type Op, runBatch, runPhases } from './batch.js'
import type { RedisConnection } from './client.js'
import type { GuardedRunner, L2Guard } from './guard.js'
import { parseInfo } from './info.js'
import { defineScripts } from './scripts.js'

/** Keys per pipelined batch (tombstones, UNLINK) and the SCAN COUNT hint. */
const BATCH = 500
/** A tag's epoch key outlives any loader by far; it restarts from the clock when it expires (see scripts). */
const EPOCH_TTL_MS = 30 * 86_400_000
const MAX_SCAN_COUNT = 1_000

/** Options of RedisTier. */
export interface RedisTierOptions {
  /** The cache's prefix: every pattern must start with `${prefix}:`. */
  prefix: string
}

/**
 * L2 on Redis (standalone or Cluster). Keys are full Redis keys. Every round trip goes through the
 * guard, so each is bounded by the deadline and skipped while the circuit is open.
 */
export class RedisTier implements L2Tier {
  readonly #client: Redis | Cluster
  readonly #isCluster: boolean

  readonly #guard: GuardedRunner
  readonly #options: RedisTierOptions
  readonly #connection: RedisConnection
  readonly #breaker: L2Guard
  #repeatable: RepeatableL2 | undefined

  /** `runner`: what runs each call (the guard itself, or its untallied runner for a repeatable view). */
  constructor(
    connection: RedisConnection,
    guard: L2Guard,
    options: RedisTierOptions,
    runner: GuardedRunner = guard,
  ) {
    this.#guard = runner
    this.#breaker = guard
    this.#connection = connection
    this.#options = options
    this.#client = defineScripts(connection.client)
    this.#isCluster = connection.isCluster
  }

  repeatable(): RepeatableL2 {
    const guard = this.#breaker
    this.#repeatable ??= {
      tier: new RedisTier(this.#connection, guard, this.#options, guard.untallied()),
      failed: (error) => guard.countFailure(error),
    }
    return this.#repeatable
  }

  /** The key of a tag's index (a zset); the hash tag keeps it and its epoch in one Cluster slot. */
  tagKey(tag: string): string {
    return `${this.#options.prefix}:__tag:{${tag}}`
  }

  async get(key: string): Promise<Buffer | undefined> {
    const value = await this.#guard.run('GET', () => this.#client.getBuffer(key))
    return value ?? undefined
  }

  async getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return []
    const values = await this.#guard.run('MGET', async () => {
      if (!this.#isCluster) return this.#client.mgetBuffer(...keys)
      // MGET cannot span slots: one GET per key, routed by ioredis.
      return Promise.all(keys.map((key) => this.#client.getBuffer(key)))
    })
    return values.map((value) => value ?? undefined)
  }

  async set(write: L2Write): Promise<boolean> {
    if (write.tags.length > 0) {
      const [written] = await this.setMany([write])
      return written!
    }
    // The common case, one untagged write: one command, no pipeline.
    const [name, ...args] = writeOp(write)
    const client = this.#client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>
    const result = await this.#guard.run<unknown>('SET', () => client[name]!(...args))
    return result === 'OK' || result === 1
  }

  async setMany(writes: readonly L2Write[]): Promise<boolean[]> {
    if (writes.length === 0) return []
    const now = Date.now()
    const tagOps: Op[] = []
    const writeOps: Op[] = []
    for (const write of writes) {
      for (const tag of new Set(write.tags)) {
        tagOps.push(['cachetTagAdd', this.tagKey(tag), now + write.ttlMs, write.key, now])
      }
      writeOps.push(writeOp(write))
    }
    // Tags first: a failure leaves at worst a dangling index member, never an unindexed entry.
    const [, results] = await this.#guard.run('SET', () =>
      runPhases(this.#client, this.#isCluster, [tagOps, writeOps]),
    )
    return results!.map((result) => result === 'OK' || result === 1)
  }

  async invalidate(
    keys: readonly string[],
    tombstone: (key: string) => Buffer,
    ttlMs: number,
  ): Promise<number> {
    let live = 0
    for (let i = 0; i < keys.length; i += BATCH) {
      const ops = this.#tombstoneOps(keys.slice(i, i + BATCH), tombstone, ttlMs)
      const results = await this.#guard.run('invalidate', () => runBatch(this.#client, this.#isCluster, ops))
      live += sum(results)
    }
    return live
  }

  async invalidateTags(
    tags: readonly string[],
    tombstone: (key: string) => Buffer,
    ttlMs: number,
  ): Promise<number> {
    let live = 0
    for (const tag of new Set(tags)) {
      const key = this.tagKey(tag)
      // Epoch first: a writer that loaded before this point sees the epoch move and drops its write.
      await this.#guard.run('invalidateTags', () =>
        this.#scripted().cachetEpochBump(`${key}:epoch`, Date.now(), EPOCH_TTL_MS),
      )
      // Bounded by the size seen now, so writers adding members concurrently cannot keep us looping.
      let remaining = await this.#guard.run('invalidateTags', () => this.#client.zcard(key))
      while (remaining > 0) {
        const members = await this.#guard.run('invalidateTags', () => this.#client.zrange(key, 0, BATCH - 1))
        if (members.length === 0) break
        // Tombstones before ZREM: a failure in between leaves members to retry, never live orphans.
        const [results] = await this.#guard.run('invalidateTags', () =>
          runPhases(this.#client, this.#isCluster, [
            this.#tombstoneOps(members, tombstone, ttlMs),
            [['zrem', key, ...members]],
          ]),
        )
        live += sum(results!)
        remaining -= members.length
      }
    }
    return live
  }

  async tagEpochs(tags: readonly string[]): Promise<number[]> {
    if (tags.length === 0) return []
    const keys = tags.map((tag) => `${this.tagKey(tag)}:epoch`)
    const values = await this.#guard.run('tagEpochs', async () => {
      if (!this.#isCluster) return this.#client.mget(...keys)
      return Promise.all(keys.map((key) => this.#client.get(key)))
    })
    return values.map((value) => (value === null ? 0 : Number(value)))
  }

  async deleteByPattern(pattern: string): Promise<number> {
    this.#checkPattern(pattern)
    let deleted = 0
    for await (const { node, keys } of this.#scan(pattern)) deleted += await this.#unlink(node, keys)
    return deleted
  }

  async countByPattern(pattern: string, sampleSize = 20): Promise<{ count: number; sample: string[] }> {
    this.#checkPattern(pattern)
    let count = 0
    const sample: string[] = []
    for await (const { keys } of this.#scan(pattern)) {
      count += keys.length
      for (const key of keys) if (sample.length < sampleSize) sample.push(key)
    }
    return { count, sample }
  }

  /** SCAN of a pattern over every master (one on a single node), batch by batch, our keys only. */
  async *#scan(pattern: string): AsyncGenerator<{ node: Redis; keys: string[] }> {
    for (const node of this.#nodes()) {
      let cursor = '0'
      do {
        const [next, keys] = await this.#guard.run('SCAN', () =>
          node.scan(cursor, 'MATCH', pattern, 'COUNT', BATCH),
        )
        cursor = next
        const ours = this.#own(keys)
        if (ours.length > 0) yield { node, keys: ours }
      } while (cursor !== '0')
    }
  }

  async entryHead(key: string): Promise<EntryHead | undefined> {
    const head = await this.#guard.run('GETRANGE', () =>
      this.#client.getrangeBuffer(key, 0, TIMES_HEAD_BYTES - 1),
    )
    return readHead(head)
  }

  async pttl(key: string): Promise<number | undefined> {
    const ms = await this.#guard.run('PTTL', () => this.#client.pttl(key))
    return ms >= 0 ? ms : undefined
  }

  async scanPage(
    pattern: string,
    cursor: string,
    count: number,
  ): Promise<{ keys: string[]; cursor: string }> {
    this.#checkPattern(pattern)
    const nodes = this.#nodes()
    // On a Cluster the opaque cursor is `<node index>:<node cursor>`, walking the masters in turn.
    let index = 0
    let nodeCursor = cursor
    if (this.#isCluster && cursor !== '0') {
      const [at, rest] = cursor.split(':')
      index = Number(at)
      nodeCursor = rest ?? ''
    }
    const node = nodes[index]
    if (!node || !/^\d+$/.test(nodeCursor))
      throw new InvalidKeyError(`invalid scan cursor ${JSON.stringify(cursor)}`)
    const hint = Math.min(MAX_SCAN_COUNT, Math.max(1, Math.floor(count)))
    const [next, keys] = await this.#guard.run('SCAN', () =>
      node.scan(nodeCursor, 'MATCH', pattern, 'COUNT', hint),
    )
    if (!this.#isCluster) return { keys: this.#own(keys), cursor: next }
    if (next !== '0') return { keys: this.#own(keys), cursor: `${index}:${next}` }
    return { keys: this.#own(keys), cursor: index + 1 < nodes.length ? `${index + 1}:0` : '0' }
  }

  async describe(keys: readonly string[]): Promise<KeyDescription[]> {
    if (keys.length === 0) return []
    const ops: Op[] = keys.flatMap((key): Op[] => [
      ['type', key],
      ['pttl', key],
      ['memory', 'USAGE', key],
    ])
    const results = await this.#guard.run('describe', () => runBatch(this.#client, this.#isCluster, ops))
    // Strings may be tombstones left by invalidations, or entries whose freshness the head tells: read
    // the head up to staleUntil (GETRANGE on another type fails).
    const strings = keys.filter((_, i) => results[3 * i] === 'string')
    const heads = await this.#guard.run('describe', () =>
      runBatch(
        this.#client,
        this.#isCluster,
        strings.map((key): Op => ['getrangeBuffer', key, 0, TIMES_HEAD_BYTES - 1]),
      ),
    )
    const headOf = new Map(strings.map((key, i) => [key, heads[i] as Buffer]))
    return keys.map((key, i) => {
      const pttl = results[3 * i + 1] as number
      const bytes = results[3 * i + 2] as number | null
      const head = headOf.get(key)
      return {
        type: results[3 * i] as string,
        ...(pttl >= 0 ? { pttl } : {}),
        ...(typeof bytes === 'number' ? { bytes } : {}),
        ...(head ? { tombstone: isTombstone(head), ...readTimes(head) } : {}),
      }
    })
  }

  async ping(): Promise<number> {
    const started = performance.now()
    await this.#guard.run('PING', () => this.#client.ping())
    return performance.now() - started
  }

  async info(): Promise<Record<string, string>> {
    const text = await this.#guard.run(
      'INFO',
      () => this.#client.call('INFO', 'memory', 'stats', 'server', 'clients') as Promise<string>,
    )
    return parseInfo(text)
  }

  async dbSize(): Promise<number> {
    const sizes = await this.#guard.run('DBSIZE', () =>
      Promise.all(this.#nodes().map((node) => node.dbsize())),
    )
    return sizes.reduce((total, size) => total + size, 0)
  }

  #scripted() {
    return defineScripts(this.#client)
  }

  #tombstoneOps(keys: readonly string[], tombstone: (key: string) => Buffer, ttlMs: number): Op[] {
    const ttl = Math.max(1, Math.round(ttlMs))
    return keys.map((key): Op => ['cachetInvalidate', key, tombstone(key), ttl])
  }

  /** The nodes a SCAN must visit: every master of a Cluster, in a stable order; else the client. */
  #nodes(): Redis[] {
    if (!this.#isCluster) return [this.#client as Redis]
    return (this.#client as Cluster).nodes('master').sort((a, b) => nodeName(a).localeCompare(nodeName(b)))
  }

  /** UNLINKs keys (one script per key: single-key, so Cluster-safe); resolves how many held a live entry. */
  async #unlink(node: Redis, keys: string[]): Promise<number> {
    const scripted = defineScripts(node)
    let deleted = 0
    for (let i = 0; i < keys.length; i += BATCH) {
      const ops = keys.slice(i, i + BATCH).map((key): Op => ['cachetDelete', key])
      const results = await this.#guard.run('UNLINK', () => runBatch(scripted as Redis, false, ops))
      deleted += sum(results)
    }
    return deleted
  }

  /** Patterns are full Redis globs and must stay inside the prefix (the prefix holds no glob characters). */
  #checkPattern(pattern: string): void {
    if (!pattern.startsWith(`${this.#options.prefix}:`)) {
      throw new InvalidKeyError(
        `pattern ${JSON.stringify(pattern)} must start with "${this.#options.prefix}:" (the cache's prefix)`,
      )
    }
  }

  /** Belt and braces: never hand back or delete a key outside the prefix. */
  #own(keys: string[]): string[] {
    const prefix = `${this.#options.prefix}:`
    return keys.filter((key) => key.startsWith(prefix))
  }

  /**
   * One page of the live entries indexed under a tag: a ZSCAN of the tag's index (cursor '0' to start,
   * '0' when done; a page may hold fewer keys than `count`, even none, before the end), keeping members
   * not yet expired that still hold a live entry.
   */
  async tagPage(tag: string, cursor: string, count: number): Promise<{ keys: string[]; cursor: string }> {
    if (!/^\d+$/.test(cursor)) throw new InvalidKeyError(`invalid tag cursor ${JSON.stringify(cursor)}`)
    const hint = Math.min(MAX_SCAN_COUNT, Math.max(1, Math.floor(count)))
    const [next, flat] = await this.#guard.run('ZSCAN', () =>
      this.#client.zscan(this.tagKey(tag), cursor, 'COUNT', hint),
    )
    const now = Date.now()
    const members: string[] = []
    for (let i = 0; i < flat.length; i += 2) if (Number(flat[i + 1]) >= now) members.push(flat[i]!)
    return { keys: await this.#live(this.#own(members)), cursor: next }
  }

  /** How many live entries a tag indexes: what invalidateTags would count now. */
  async tagCount(tag: string): Promise<number> {
    // ZSCAN may return a member twice while the index is rehashed: count each once.
    const seen = new Set<string>()
    let cursor = '0'
    do {
      const page = await this.tagPage(tag, cursor, BATCH)
      for (const key of page.keys) seen.add(key)
      cursor = page.cursor
    } while (cursor !== '0')
    return seen.size
  }

  /**
   * Soft purge: every live entry indexed under these tags stops being fresh now and stays as a stale
   * fail-safe copy until its staleUntil; the index is kept, and each tag's epoch moves first, so a load
   * that began earlier cannot write back a fresh copy. Resolves how many live entries were reached.
   */
  async expireTags(tags: readonly string[], now: number): Promise<number> {
    const nowBytes = Buffer.alloc(8)
    nowBytes.writeDoubleBE(now)
    let reached = 0
    for (const tag of new Set(tags)) {
      const key = this.tagKey(tag)
      await this.#guard.run('expireTags', () =>
        this.#scripted().cachetEpochBump(`${key}:epoch`, Date.now(), EPOCH_TTL_MS),
      )
      // Members stay in the index, so offsets are stable; bounded by the size seen now.
      const total = await this.#guard.run('expireTags', () => this.#client.zcard(key))
      for (let offset = 0; offset < total; offset += BATCH) {
        const members = await this.#guard.run('expireTags', () =>
          this.#client.zrangebyscore(key, now, '+inf', 'LIMIT', offset, BATCH),
        )
        if (members.length === 0) break
        const ops = this.#own(members).map((member): Op => ['cachetSoftExpire', member, now, nowBytes])
        reached += sum(
          await this.#guard.run('expireTags', () => runBatch(this.#client, this.#isCluster, ops)),
        )
      }
    }
    return reached
  }

  /** The keys that hold a live entry, in order (one read-only script per key: Cluster-safe). */
  async #live(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return []
    const ops = keys.map((key): Op => ['cachetLive', key])
    const results = await this.#guard.run('tagKeys', () => runBatch(this.#client, this.#isCluster, ops))
    return keys.filter((_, i) => Number(results[i]) === 1)
  }
}

/**
 * The command of one write: plain SET, the conditional write, or the conditional write that also
 * releases the stampede lock (one round trip for what used to take two).
 */
function writeOp(write: L2Write): Op {
  const ttl = Math.max(1, Math.round(write.ttlMs))
  if (write.ifVersion === undefined) return ['set', write.key, write.bytes, 'PX', ttl]
  const version = write.ifVersion ?? ''
  if (write.unlock) {
    return ['cachetSetIfRelease', write.key, write.unlock.key, write.bytes, ttl, version, write.unlock.token]
  }
  return ['cachetSetIf', write.key, write.bytes, ttl, version]
}

function nodeName(node: Redis): string {
  return `${node.options.host}:${node.options.port}`
}

function sum(results: readonly unknown[]): number {
  let total = 0
  for (const result of results) total += Number(result) || 0
  return total
}
