import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { L2Error } from '../../src/core/errors.js'
import { DistributedLock } from '../../src/sync/lock.js'
import { type ChaosProxy, startChaosProxy } from '../../src/testing/index.js'
import { connectRedis, type RedisConnection } from '../../src/tiers/redis/client.js'
import { L2Guard } from '../../src/tiers/redis/guard.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
/** The lock talks to Redis through this proxy; `raw` goes straight to Redis, so it can look during a freeze. */
let proxy: ChaosProxy
let connection: RedisConnection
let raw: Redis
let lock: DistributedLock

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  redis = await startRedis()
  proxy = await startChaosProxy({ target: { port: redis.port } })
  connection = connectRedis(proxy.url, { timeoutMs: 500 })
  raw = new Redis(redis.url)
  lock = new DistributedLock(connection.client, new L2Guard({ timeoutMs: 500, breaker: false }), 'lk')
})

afterAll(async () => {
  proxy.heal()
  await connection.close()
  raw.disconnect()
  await proxy.close()
  await redis.stop()
})

describe('DistributedLock', () => {
  it('a second acquire fails while the lock is held, and succeeds after release', async () => {
    const first = await lock.acquire('a', 10_000)
    expect(first).toBeDefined()
    expect(await raw.get('lk:__lock:a')).toBe(first!.token)
    expect(await lock.acquire('a', 10_000)).toBeUndefined()
    await first!.release()
    expect(await raw.exists('lk:__lock:a')).toBe(0)
    const second = await lock.acquire('a', 10_000)
    expect(second).toBeDefined()
    expect(second!.token).not.toBe(first!.token)
    await second!.release()
    await second!.release() // idempotent
  })

  it("a stale holder's release does not delete the new holder's lock", async () => {
    const stale = await lock.acquire('b', 10_000)
    // The lease runs out while the holder is paused (simulated: the key expires).
    await raw.del('lk:__lock:b')
    const fresh = await lock.acquire('b', 10_000)
    expect(fresh).toBeDefined()
    await stale!.release()
    expect(await raw.get('lk:__lock:b')).toBe(fresh!.token)
    expect(await raw.pttl('lk:__lock:b')).toBeGreaterThan(9_000)
    await fresh!.release()
  })

  it("a stale holder's renewal does not extend the new holder's lock", async () => {
    const stale = await lock.acquire('c', 300)
    await raw.del('lk:__lock:c')
    await raw.set('lk:__lock:c', 'someone-else', 'PX', 60_000)
    await sleep(400) // several renewal ticks of the stale holder
    expect(await raw.get('lk:__lock:c')).toBe('someone-else')
    expect(await raw.pttl('lk:__lock:c')).toBeGreaterThan(59_000 - 1_000)
    await stale!.release()
    expect(await raw.get('lk:__lock:c')).toBe('someone-else')
  })

  it('renewal keeps a lock alive past its ttl until released', async () => {
    const held = await lock.acquire('d', 300)
    await sleep(1_200)
    expect(await raw.get('lk:__lock:d')).toBe(held!.token)
    await held!.release()
    expect(await raw.exists('lk:__lock:d')).toBe(0)
    // Once released, nothing renews it any more.
    await raw.set('lk:__lock:d', 'other', 'PX', 300)
    await sleep(600)
    expect(await raw.exists('lk:__lock:d')).toBe(0)
  })

  it('acquire rejects with L2Error within 1 s when Redis is frozen; release never throws', async () => {
    const held = await lock.acquire('e', 5_000)
    proxy.freeze()
    const started = Date.now()
    await expect(lock.acquire('f', 5_000)).rejects.toBeInstanceOf(L2Error)
    expect(Date.now() - started).toBeLessThan(1_000)
    await expect(held!.release()).resolves.toBeUndefined()
    // Neither command has reached Redis yet: the lock is still held, 'f' still free.
    expect(await raw.get('lk:__lock:e')).toBe(held!.token)
    expect(await raw.exists('lk:__lock:f')).toBe(0)
    proxy.thaw()
    // Both land once the link thaws (docs/reliability.md E4): the release frees 'e', and the acquire
    // that timed out takes 'f' for nobody, at most for its ttl.
    await expect.poll(() => raw.exists('lk:__lock:e'), { timeout: 3_000 }).toBe(0)
    await expect.poll(() => raw.exists('lk:__lock:f'), { timeout: 3_000 }).toBe(1)
    expect(await raw.pttl('lk:__lock:f')).toBeLessThanOrEqual(5_000)
  })
})
