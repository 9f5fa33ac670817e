import type { Cluster, Redis } from 'ioredis'
import { newVersion } from '../core/codec/envelope.js'
import type { L2Guard } from '../tiers/redis/guard.js'
import { defineScripts, type ScriptedClient } from '../tiers/redis/scripts.js'

/** A held lock. */
export interface LockHandle {
  /** The random value stored in the lock key; only its holder can renew or release it. */
  token: string
  /** Stops renewal and deletes the lock if it is still ours. Never throws. */
  release(): Promise<void>
}

/**
 * Distributed stampede lock: `SET <prefix>:__lock:<key> <token> NX PX ttl`, renewed every ttl/3 while
 * held, released by compare-and-delete. It only saves duplicate loader work; correctness never depends
 * on it (a paused holder can outlive its lease: the conditional write is what prevents stale writes).
 */
export class DistributedLock {
  readonly #client: ScriptedClient
  readonly #guard: L2Guard
  readonly #prefix: string

  constructor(client: Redis | Cluster, guard: L2Guard, prefix: string) {
    this.#client = defineScripts(client)
    this.#guard = guard
    this.#prefix = prefix
  }

  /** The Redis key of the lock on `key` (a cache key without the prefix). */
  lockKey(key: string): string {
    return `${this.#prefix}:__lock:${key}`
  }

  /**
   * Tries once to take the lock on `key` (a cache key without the prefix) for `ttlMs`.
   * Resolves a handle, or undefined when someone else holds it; rejects with L2Error on Redis trouble.
   */
  async acquire(key: string, ttlMs: number): Promise<LockHandle | undefined> {
    const lockKey = this.lockKey(key)
    // 128 random bits, drawn from the codec's pool rather than a randomBytes call per lock.
    const token = newVersion() + newVersion()
    const ttl = Math.max(1, Math.round(ttlMs))
    const reply = await this.#guard.run('lock acquire', () =>
      this.#client.set(lockKey, token, 'PX', ttl, 'NX'),
    )
    if (reply !== 'OK') return undefined

    let released = false
    const renew = async () => {
      try {
        const renewed = await this.#guard.run('lock renew', () =>
          this.#client.cachetLockRenew(lockKey, token, ttl),
        )
        // Lost (expired, or taken over after a pause): stop renewing; the holder finds out on write-back.
        if (renewed !== 1) clearInterval(timer)
      } catch {
        // Redis trouble: keep trying while the lease may still be alive; release() stops the timer.
      }
    }
    const timer = setInterval(
      () => {
        if (!released) void renew()
      },
      Math.max(1, Math.floor(ttl / 3)),
    )
    timer.unref()

    return {
      token,
      release: async () => {
        if (released) return
        released = true
        clearInterval(timer)
        try {
          await this.#guard.run('lock release', () => this.#client.cachetLockRelease(lockKey, token))
        } catch {
          // The lease expires on its own.
        }
      },
    }
  }
}
