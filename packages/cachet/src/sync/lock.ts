import type { Cluster, Redis } from 'ioredis'
import { newVersion } from '../core/codec/envelope.js'
import type { LockHandle, LockingRead, StampedeLock } from '../core/types.js'
import type { L2Guard } from '../tiers/redis/guard.js'
import { defineScripts, type ScriptedClient } from '../tiers/redis/scripts.js'

/** A lock this process holds, renewed by the one renewal timer until released. */
class HeldLock implements LockHandle {
  released = false
  renewedAt = Date.now()

  constructor(
    readonly key: string,
    readonly token: string,
    readonly colocated: boolean,
    readonly owner: DistributedLock,
  ) {}

  settled(): void {
    if (this.released) return
    this.released = true
    this.owner.forget(this)
  }

  async release(): Promise<void> {
    if (this.released) return
    this.settled()
    await this.owner.releaseToken(this.key, this.token)
  }
}

/**
 * Distributed stampede lock: `<prefix>:__lock:…` holding a random token, set NX with a lease, renewed
 * every third of the lease while held (one timer for all held locks), released by compare-and-delete.
 * It only saves duplicate loader work; correctness never depends on it (a paused holder can outlive its
 * lease: the conditional write is what prevents stale writes).
 *
 * The lock key shares its entry's Cluster slot, so one script can read the entry and take the lock,
 * and one can write the entry and release the lock (a miss in two round trips, on a Cluster too).
 */
export class DistributedLock implements StampedeLock {
  readonly #client: ScriptedClient
  readonly #guard: L2Guard
  readonly #prefix: string
  readonly #ttlMs: number
  readonly #held = new Set<HeldLock>()
  #timer: NodeJS.Timeout | undefined
  /** Share of recent reads that found no fresh entry (see readOrLock). */
  #missShare = 0
  /** Tokens are this process's random part and a counter: unique, without drawing random bytes per lock. */
  readonly #tokenBase = newVersion() + newVersion()
  #tokens = 0

  constructor(client: Redis | Cluster, guard: L2Guard, prefix: string, ttlMs: number) {
    this.#client = defineScripts(client)
    this.#guard = guard
    this.#prefix = prefix
    this.#ttlMs = Math.max(1, Math.round(ttlMs))
  }

  /**
   * The Redis key of the lock on `key` (a cache key without the prefix). A key with a hash tag keeps
   * it; any other key becomes the hash tag of its lock, so both hash to the same slot. Only a key with
   * a '}' and no hash tag cannot share its slot (`colocated` false): its lock is taken on its own.
   */
  lockKey(key: string): { key: string; colocated: boolean } {
    if (!key.includes('}')) return { key: `${this.#prefix}:__lock:{${this.#prefix}:${key}}`, colocated: true }
    return { key: `${this.#prefix}:__lock:${key}`, colocated: colocated(key) }
  }

  /**
   * Reads the entry at `fullKey` and, unless it is fresh at `now` (`force`: whatever it holds), takes
   * the lock on `key`. Rejects with L2Error on Redis trouble.
   *
   * Two ways, chosen by what recent reads found: while most found no fresh entry, one script reads and
   * locks (a miss in one round trip); while most found one, a plain GET, then SET NX only on a miss.
   * A script costs Redis several times a GET (measured in docs/architecture.md), so a cache that mostly
   * hits would pay for the lock on every read to save a round trip on its rare misses.
   */
  readOrLock(key: string, fullKey: string, now: number, force: boolean): Promise<LockingRead> {
    // The lock's key is built only when the script takes it: a read that hits never needs it.
    return (force || this.#missShare > 0.5) && colocated(key)
      ? this.#readAndLock(this.lockKey(key).key, fullKey, now, force)
      : this.#readThenLock(key, fullKey, now, force)
  }

  /** Keeps the share of reads that found no fresh entry, over about the last 64. */
  #count(found: LockingRead): LockingRead {
    this.#missShare += ((found.lock === 'not-tried' ? 0 : 1) - this.#missShare) / 64
    return found
  }

  /** The one-script form; a lock the script may still take after a timeout is released behind it. */
  async #readAndLock(lockKey: string, fullKey: string, now: number, force: boolean): Promise<LockingRead> {
    const token = this.#token()
    let reply: [Buffer | null, number]
    try {
      reply = await this.#guard.run('GET', () =>
        this.#client.cachetReadOrLockBuffer(fullKey, lockKey, token, this.#ttlMs, force ? '' : now),
      )
    } catch (error) {
      // Same connection, so it runs after the script if the script runs at all.
      void this.releaseToken(lockKey, token)
      throw error
    }
    const [bytes, state] = reply
    return this.#count({
      bytes: bytes ?? undefined,
      lock: state === 1 ? this.#hold(lockKey, token, true) : state === 2 ? 'held' : 'not-tried',
    })
  }

  /**
   * Tries once to take the lock on `key` (a cache key without the prefix). Resolves a handle, or
   * undefined when someone else holds it; rejects with L2Error on Redis trouble.
   */
  async acquire(key: string): Promise<LockHandle | undefined> {
    const lock = this.lockKey(key)
    const token = this.#token()
    let reply: string | null
    try {
      reply = await this.#guard.run('lock acquire', () =>
        this.#client.set(lock.key, token, 'PX', this.#ttlMs, 'NX'),
      )
    } catch (error) {
      // A timed-out SET may still land (a frozen link thawing): release it behind, same connection.
      void this.releaseToken(lock.key, token)
      throw error
    }
    return reply === 'OK' ? this.#hold(lock.key, token, lock.colocated) : undefined
  }

  /** Deletes the lock if it still holds `token`. Never throws: the lease expires on its own. */
  async releaseToken(lockKey: string, token: string): Promise<void> {
    try {
      await this.#guard.run('lock release', () => this.#client.cachetLockRelease(lockKey, token))
    } catch {
      // The lease expires on its own.
    }
  }

  /** Stops renewing a lock (released by a command or by the write script). */
  forget(lock: HeldLock): void {
    this.#held.delete(lock)
    if (this.#held.size === 0 && this.#timer) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  /** Stops renewing every lock (close); their leases expire on their own. */
  close(): void {
    for (const lock of this.#held) lock.released = true
    this.#held.clear()
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /**
   * The two-step form: a plain GET, and only when the entry is not fresh, the lock. The lock step reads
   * the entry again in the same script: between the GET and the lock another process may have loaded,
   * written and released, and a bare SET NX would then take a free lock over a fresh entry and load the
   * key a second time. A key whose lock cannot share its slot takes the lock, then reads again.
   */
  async #readThenLock(key: string, fullKey: string, now: number, force: boolean): Promise<LockingRead> {
    const bytes = (await this.#guard.run('GET', () => this.#client.getBuffer(fullKey))) ?? undefined
    if (!force && bytes && freshAt(bytes, now)) return this.#count({ bytes, lock: 'not-tried' })
    const lock = this.lockKey(key)
    if (lock.colocated) return this.#readAndLock(lock.key, fullKey, Date.now(), force)
    const taken = await this.acquire(key)
    if (!taken) return this.#count({ bytes, lock: 'held' })
    const again = (await this.#guard.run('GET', () => this.#client.getBuffer(fullKey))) ?? undefined
    if (!force && again && freshAt(again, Date.now())) {
      void taken.release()
      return this.#count({ bytes: again, lock: 'not-tried' })
    }
    return this.#count({ bytes: again, lock: taken })
  }

  #token(): string {
    return this.#tokenBase + (++this.#tokens).toString(36)
  }

  #hold(key: string, token: string, colocated: boolean): HeldLock {
    const lock = new HeldLock(key, token, colocated, this)
    this.#held.add(lock)
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#renewAll(), Math.max(1, Math.floor(this.#ttlMs / 3)))
      this.#timer.unref()
    }
    return lock
  }

  /** Renews every lock held for a third of the lease or more; a lost one stops being renewed. */
  #renewAll(): void {
    const due = Date.now() - this.#ttlMs / 3
    for (const lock of this.#held) {
      if (lock.renewedAt > due) continue
      lock.renewedAt = Date.now()
      this.#guard
        .run('lock renew', () => this.#client.cachetLockRenew(lock.key, lock.token, this.#ttlMs))
        .then(
          // Lost (expired, or taken over after a pause): stop renewing; the holder finds out on write-back.
          (renewed) => {
            if (renewed !== 1) lock.settled()
          },
          // Redis trouble: keep trying while the lease may still be alive.
          () => {},
        )
    }
  }
}

/**
 * The hash tag of a key by Redis Cluster's rule: what lies between the first '{' and the first '}'
 * after it, when that is not empty.
 */
export function hashTag(key: string): string | undefined {
  const open = key.indexOf('{')
  if (open < 0) return undefined
  const close = key.indexOf('}', open + 1)
  return close > open + 1 ? key.slice(open + 1, close) : undefined
}

/** Whether envelope bytes hold a live entry fresh at `now` (the same test the read script makes). */
function freshAt(bytes: Buffer, now: number): boolean {
  const format = bytes[0]!
  if (format >> 5 !== 1 || (format & 0b1_0000) !== 0 || bytes.length < 33) return false
  return bytes.readDoubleBE(25) > now
}

/** Whether the lock on `key` shares the entry's Cluster slot: it has a hash tag, or no '}' to spoil one. */
function colocated(key: string): boolean {
  return !key.includes('}') || hashTag(key) !== undefined
}
