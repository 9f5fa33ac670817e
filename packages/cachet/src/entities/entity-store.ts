import type { Cluster, Redis } from 'ioredis'
import { runBatch } from '../tiers/redis/batch.js'
import type { L2Guard } from '../tiers/redis/guard.js'
import { DELETED_FIELD, TAGGED_FIELD, VERSION_FIELD } from './hash-codec.js'
import { defineEntityScripts } from './scripts.js'

/** What Redis holds for one entity key. */
export type StoredEntity =
  | { state: 'miss' }
  | { state: 'deleted' }
  | { state: 'found'; hash: Record<string, string> }

/** One version-checked write: the key, the version ('' = unconditional), the encoded fields. */
export interface EntityWrite {
  key: string
  version: number | undefined
  fields: string[]
}

/**
 * The Redis side of the entity cache: every call goes through the guard (deadline + circuit breaker),
 * batches go through one pipeline (one Cluster command each, as the engine does).
 */
export class EntityStore {
  readonly #client: Redis | Cluster
  readonly #isCluster: boolean
  readonly #guard: L2Guard
  readonly #ttlMs: number

  constructor(client: Redis | Cluster, isCluster: boolean, guard: L2Guard, ttlMs: number) {
    defineEntityScripts(client)
    this.#client = client
    this.#isCluster = isCluster
    this.#guard = guard
    this.#ttlMs = ttlMs
  }

  /** HGETALL of one entity. */
  async read(key: string): Promise<StoredEntity> {
    return classify(await this.#guard.run('HGETALL', () => this.#client.hgetall(key)))
  }

  /** HGETALL of many entities in one pipeline. */
  async readMany(keys: readonly string[]): Promise<StoredEntity[]> {
    if (keys.length === 0) return []
    const replies = await this.#guard.run('HGETALL (batch)', () =>
      runBatch(
        this.#client,
        this.#isCluster,
        keys.map((key) => ['hgetall', key]),
      ),
    )
    return replies.map((reply) => classify(reply as Record<string, string>))
  }

  /**
   * HMGET of some fields (and `__t`, which says how to read them); `miss` when none is there. A hash
   * the seed system wrote has no `__v`: it is found by its fields.
   */
  async readFields(key: string, fields: readonly string[]): Promise<StoredEntity> {
    const reserved = [VERSION_FIELD, DELETED_FIELD, TAGGED_FIELD]
    const values = await this.#guard.run('HMGET', () => this.#client.hmget(key, ...reserved, ...fields))
    if (values[1] !== null) return { state: 'deleted' }
    const hash: Record<string, string> = {}
    ;[...reserved, ...fields].forEach((field, index) => {
      const value = values[index]
      if (value !== null && value !== undefined) hash[field] = value
    })
    if (values[0] === null && fields.every((field) => hash[field] === undefined)) return { state: 'miss' }
    return { state: 'found', hash }
  }

  /** Which keys exist (one pipeline). */
  async exists(keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return []
    const replies = await this.#guard.run('EXISTS (batch)', () =>
      runBatch(
        this.#client,
        this.#isCluster,
        keys.map((key) => ['exists', key]),
      ),
    )
    return replies.map((reply) => Number(reply) === 1)
  }

  /** Version-checked writes in one pipeline; each result is true when written, false when refused as stale. */
  async writeMany(writes: readonly EntityWrite[]): Promise<boolean[]> {
    if (writes.length === 0) return []
    const replies = await this.#guard.run('HSET (batch)', () =>
      runBatch(
        this.#client,
        this.#isCluster,
        writes.map((write) => [
          'cachetEntitySet',
          write.key,
          versionArg(write.version),
          this.#ttlMs,
          ...write.fields,
        ]),
      ),
    )
    return replies.map((reply) => Number(reply) === 1)
  }

  /** Replaces the hash with a tombstone of `version` unless Redis holds a newer one. */
  async tombstone(key: string, version: number): Promise<boolean> {
    const reply = await this.#guard.run('tombstone', () =>
      this.#client.cachetEntityDelete(key, versionArg(version), this.#ttlMs),
    )
    return reply === 1
  }

  /** UNLINK of one key; true when it existed. */
  async unlink(key: string): Promise<boolean> {
    return (await this.#guard.run('UNLINK', () => this.#client.unlink(key))) === 1
  }
}

function classify(hash: Record<string, string>): StoredEntity {
  if (!hash || Object.keys(hash).length === 0) return { state: 'miss' }
  if (hash[DELETED_FIELD] !== undefined) return { state: 'deleted' }
  return { state: 'found', hash }
}

/** Versions travel as decimal strings (no exponent form), which Lua's tonumber reads exactly up to 2^53. */
function versionArg(version: number | undefined): string {
  if (version === undefined) return ''
  return Number.isSafeInteger(version) ? String(version) : version.toFixed(6)
}
