import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCodec, newVersion } from '../../src/core/codec/envelope.js'
import { L2Error } from '../../src/core/errors.js'
import { DistributedLock, hashTag } from '../../src/sync/lock.js'
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
let shortLock: DistributedLock
const keyOf = (key: string) => lock.lockKey(key).key

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  redis = await startRedis()
  proxy = await startChaosProxy({ target: { port: redis.port } })
  connection = connectRedis(proxy.url, { timeoutMs: 500 })
  raw = new Redis(redis.url)
  const guard = new L2Guard({ timeoutMs: 500, breaker: false })
  lock = new DistributedLock(connection.client, guard, 'lk', 10_000)
  shortLock = new DistributedLock(connection.client, guard, 'lk', 300)
})

afterAll(async () => {
  lock.close()
  shortLock.close()
  proxy.heal()
  await connection.close()
  raw.disconnect()
  await proxy.close()
  await redis.stop()
})

describe('DistributedLock', () => {
  it('a second acquire fails while the lock is held, and succeeds after release', async () => {
    const first = await lock.acquire('a')
    expect(first).toBeDefined()
    expect(await raw.get(keyOf('a'))).toBe(first!.token)
    expect(await lock.acquire('a')).toBeUndefined()
    await first!.release()
    expect(await raw.exists(keyOf('a'))).toBe(0)
    const second = await lock.acquire('a')
    expect(second).toBeDefined()
    expect(second!.token).not.toBe(first!.token)
    await second!.release()
    await second!.release() // idempotent
  })

  it("a stale holder's release does not delete the new holder's lock", async () => {
    const stale = await lock.acquire('b')
    // The lease runs out while the holder is paused (simulated: the key expires).
    await raw.del(keyOf('b'))
    const fresh = await lock.acquire('b')
    expect(fresh).toBeDefined()
    await stale!.release()
    expect(await raw.get(keyOf('b'))).toBe(fresh!.token)
    expect(await raw.pttl(keyOf('b'))).toBeGreaterThan(9_000)
    await fresh!.release()
  })

  it("a stale holder's renewal does not extend the new holder's lock", async () => {
    const stale = await shortLock.acquire('c')
    await raw.del(keyOf('c'))
    await raw.set(keyOf('c'), 'someone-else', 'PX', 60_000)
    await sleep(400) // several renewal ticks of the stale holder
    expect(await raw.get(keyOf('c'))).toBe('someone-else')
    expect(await raw.pttl(keyOf('c'))).toBeGreaterThan(59_000 - 1_000)
    await stale!.release()
    expect(await raw.get(keyOf('c'))).toBe('someone-else')
  })

  it('renewal keeps a lock alive past its ttl until released', async () => {
    const held = await shortLock.acquire('d')
    await sleep(1_200)
    expect(await raw.get(keyOf('d'))).toBe(held!.token)
    await held!.release()
    expect(await raw.exists(keyOf('d'))).toBe(0)
    // Once released, nothing renews it any more.
    await raw.set(keyOf('d'), 'other', 'PX', 300)
    await sleep(600)
    expect(await raw.exists(keyOf('d'))).toBe(0)
  })

  it('acquire rejects with L2Error within 1 s when Redis is frozen; release never throws', async () => {
    const held = await lock.acquire('e')
    proxy.freeze()
    const started = Date.now()
    await expect(lock.acquire('f')).rejects.toBeInstanceOf(L2Error)
    expect(Date.now() - started).toBeLessThan(1_000)
    await expect(held!.release()).resolves.toBeUndefined()
    // Neither command has reached Redis yet: the lock is still held, 'f' still free.
    expect(await raw.get(keyOf('e'))).toBe(held!.token)
    expect(await raw.exists(keyOf('f'))).toBe(0)
    proxy.thaw()
    // All land once the link thaws (docs/reliability.md E4), in order: the release frees 'e'; the
    // acquire that timed out takes 'f', and the release sent behind it frees it again, so no lock is
    // left held for nobody.
    await expect.poll(() => raw.exists(keyOf('e')), { timeout: 3_000 }).toBe(0)
    await sleep(300)
    expect(await raw.exists(keyOf('f'))).toBe(0)
  })

  it("a lock shares its entry's Cluster slot: a hash tag is kept, any other key becomes the tag", () => {
    expect(lock.lockKey('users:{42}:profile')).toEqual({
      key: 'lk:__lock:users:{42}:profile',
      colocated: true,
    })
    expect(lock.lockKey('report:7')).toEqual({ key: 'lk:__lock:{lk:report:7}', colocated: true })
    // A '}' without a hash tag cannot be put inside one: that lock is taken on its own.
    expect(lock.lockKey('odd}key').colocated).toBe(false)
    expect(lock.lockKey('empty{}tag').colocated).toBe(false)
    expect(hashTag('lk:__lock:{lk:report:7}')).toBe('lk:report:7')
    expect(hashTag('a{}b{c}')).toBeUndefined()
  })

  it('readOrLock: a fresh entry is read without the lock; a missing, stale or tombstoned one takes it', async () => {
    const now = Date.now()
    const codec = createCodec({ serializer: 'json', compression: false })
    const entry = (freshUntil: number) =>
      codec.encode({
        value: 1,
        createdAt: now,
        freshUntil,
        staleUntil: freshUntil + 60_000,
        tags: [],
        version: newVersion(),
        loadMs: 0,
      })
    await raw.set('lk:fresh', entry(now + 60_000))
    await raw.set('lk:stale', entry(now - 1))
    await raw.set('lk:gone', codec.encodeTombstone(newVersion()))

    const fresh = await lock.readOrLock('fresh', 'lk:fresh', now, false)
    expect(fresh.lock).toBe('not-tried')
    expect(fresh.bytes?.length).toBeGreaterThan(40)
    expect(await raw.exists(keyOf('fresh'))).toBe(0)

    for (const key of ['stale', 'gone', 'absent']) {
      const found = await lock.readOrLock(key, `lk:${key}`, now, false)
      expect(typeof found.lock, key).toBe('object')
      expect(await raw.get(keyOf(key))).toBe((found.lock as { token: string }).token)
      // A second reader finds the lock held, and the entry as it is.
      const second = await lock.readOrLock(key, `lk:${key}`, now, false)
      expect(second.lock).toBe('held')
      expect(second.bytes === undefined).toBe(key === 'absent')
      await (found.lock as { release(): Promise<void> }).release()
    }
    // force: the lock is taken even over a fresh entry.
    const forced = await lock.readOrLock('fresh', 'lk:fresh', now, true)
    expect(typeof forced.lock).toBe('object')
    await (forced.lock as { release(): Promise<void> }).release()
    expect(await raw.exists(keyOf('fresh'))).toBe(0)
  })

  it('reads with one script while most reads miss, and with a plain GET while most hit', async () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    const now = Date.now()
    const fresh = codec.encode({
      value: 1,
      createdAt: now,
      freshUntil: now + 60_000,
      staleUntil: now + 120_000,
      tags: [],
      version: newVersion(),
      loadMs: 0,
    })
    await raw.set('lk:hot', fresh)
    const mixed = new DistributedLock(
      connection.client,
      new L2Guard({ timeoutMs: 500, breaker: false }),
      'lk',
      10_000,
    )
    const commandsOf = async (read: () => Promise<unknown>) => {
      const monitor = await new Redis(redis.url).monitor()
      const seen: string[] = []
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (!source.includes('lua')) seen.push(String(args[0]).toLowerCase())
      })
      await sleep(50)
      await read()
      await sleep(50)
      monitor.disconnect()
      return seen.filter((name) => name !== 'monitor')
    }
    const miss = async (i: number) => {
      const found = await mixed.readOrLock(`cold:${i}`, `lk:cold:${i}`, Date.now(), false)
      if (typeof found.lock === 'object') await found.lock.release()
    }
    // Mostly hits: a fresh entry costs one GET.
    for (let i = 0; i < 100; i++) await mixed.readOrLock('hot', 'lk:hot', Date.now(), false)
    expect(await commandsOf(() => mixed.readOrLock('hot', 'lk:hot', Date.now(), false))).toEqual(['get'])
    // A miss: the GET, then the script that reads again while taking the lock (no race with a writer).
    const missCommands = await commandsOf(() => miss(-1))
    expect(missCommands[0]).toBe('get')
    expect(missCommands[1]).toMatch(/^eval/)
    // Mostly misses: the read takes the lock in the same script.
    for (let i = 0; i < 200; i++) await miss(i)
    expect((await commandsOf(() => miss(-2)))[0]).toMatch(/^eval/)
    expect((await commandsOf(() => miss(-3))).filter((name) => name === 'get' || name === 'set')).toEqual([])
    mixed.close()
  })
})
