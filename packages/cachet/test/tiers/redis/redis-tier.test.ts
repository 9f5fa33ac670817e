import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InvalidKeyError } from '../../../src/core/errors.js'
import { connectRedis, type RedisConnection } from '../../../src/tiers/redis/client.js'
import { L2Guard } from '../../../src/tiers/redis/guard.js'
import { RedisTier } from '../../../src/tiers/redis/redis-tier.js'
import { startRedis, type TestRedis } from '../../helpers/redis-server.js'
import { entryBytes, isTombstone, tombstoneBytes, version } from './envelope-bytes.js'

let redis: TestRedis
let connection: RedisConnection
let raw: Redis
let counter = 0

/** A tier on a fresh prefix, so tests in this file never see each other's keys. */
function tier(): { l2: RedisTier; prefix: string } {
  const prefix = `t${++counter}`
  // A generous deadline: this suite checks semantics, not timing, on a shared machine.
  const guard = new L2Guard({ timeoutMs: 2_000, breaker: false })
  return { l2: new RedisTier(connection, guard, { prefix }), prefix }
}

const tomb = (ver: string) => () => tombstoneBytes(ver)

beforeAll(async () => {
  redis = await startRedis()
  connection = connectRedis(redis.url, { timeoutMs: 2_000 })
  raw = new Redis(redis.url)
})

afterAll(async () => {
  await connection.close()
  raw.disconnect()
  await redis.stop()
})

describe('get / set', () => {
  it('round-trips bytes, reads absent keys as undefined, and sets the TTL', async () => {
    const { l2, prefix } = tier()
    const bytes = entryBytes(version(1), '\u0000binary\u00ff')
    expect(await l2.set({ key: `${prefix}:a`, bytes, ttlMs: 60_000, tags: [] })).toBe(true)
    expect(await l2.get(`${prefix}:a`)).toEqual(bytes)
    expect(await l2.get(`${prefix}:missing`)).toBeUndefined()
    const ttl = await l2.pttl(`${prefix}:a`)
    expect(ttl).toBeGreaterThan(55_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
    expect(await l2.pttl(`${prefix}:missing`)).toBeUndefined()
  })

  it('getMany keeps order and reports misses', async () => {
    const { l2, prefix } = tier()
    await l2.setMany([
      { key: `${prefix}:a`, bytes: entryBytes(version(1), 'A'), ttlMs: 60_000, tags: [] },
      { key: `${prefix}:c`, bytes: entryBytes(version(2), 'C'), ttlMs: 60_000, tags: [] },
    ])
    const values = await l2.getMany([`${prefix}:a`, `${prefix}:b`, `${prefix}:c`])
    expect(values.map((v) => v?.subarray(17).toString())).toEqual(['A', undefined, 'C'])
    expect(await l2.getMany([])).toEqual([])
  })
})

describe('conditional set', () => {
  it('ifVersion null writes only when the key is absent', async () => {
    const { l2, prefix } = tier()
    const key = `${prefix}:k`
    expect(
      await l2.set({ key, bytes: entryBytes(version(1)), ttlMs: 60_000, tags: [], ifVersion: null }),
    ).toBe(true)
    expect(
      await l2.set({ key, bytes: entryBytes(version(2)), ttlMs: 60_000, tags: [], ifVersion: null }),
    ).toBe(false)
    expect((await l2.get(key))?.subarray(1, 17).toString()).toBe(version(1))
  })

  it('ifVersion writes only when the stored version matches (entry or tombstone)', async () => {
    const { l2, prefix } = tier()
    const key = `${prefix}:k`
    await raw.set(key, entryBytes(version(7)), 'PX', 60_000)
    expect(
      await l2.set({ key, bytes: entryBytes(version(8)), ttlMs: 60_000, tags: [], ifVersion: version(6) }),
    ).toBe(false)
    expect((await raw.getBuffer(key))?.subarray(1, 17).toString()).toBe(version(7))
    expect(
      await l2.set({ key, bytes: entryBytes(version(8)), ttlMs: 60_000, tags: [], ifVersion: version(7) }),
    ).toBe(true)
    expect((await raw.getBuffer(key))?.subarray(1, 17).toString()).toBe(version(8))

    // A loader that saw the tombstone's version may write over it; one that saw the old entry may not.
    await l2.invalidate([key], tomb(version(9)), 60_000)
    expect(
      await l2.set({ key, bytes: entryBytes(version(10)), ttlMs: 60_000, tags: [], ifVersion: version(8) }),
    ).toBe(false)
    expect(
      await l2.set({ key, bytes: entryBytes(version(10)), ttlMs: 60_000, tags: [], ifVersion: version(9) }),
    ).toBe(true)
  })

  it('ifVersion on an absent key fails; an unconditional set always writes', async () => {
    const { l2, prefix } = tier()
    const key = `${prefix}:k`
    expect(
      await l2.set({ key, bytes: entryBytes(version(1)), ttlMs: 60_000, tags: [], ifVersion: version(1) }),
    ).toBe(false)
    expect(await raw.exists(key)).toBe(0)
    await raw.set(key, entryBytes(version(5)))
    expect(await l2.set({ key, bytes: entryBytes(version(6)), ttlMs: 60_000, tags: [] })).toBe(true)
    expect((await raw.getBuffer(key))?.subarray(1, 17).toString()).toBe(version(6))
    expect(await raw.pttl(key)).toBeGreaterThan(0)
  })

  it('setMany reports each condition separately', async () => {
    const { l2, prefix } = tier()
    await raw.set(`${prefix}:b`, entryBytes(version(1)))
    const results = await l2.setMany([
      { key: `${prefix}:a`, bytes: entryBytes(version(2)), ttlMs: 60_000, tags: [], ifVersion: null },
      { key: `${prefix}:b`, bytes: entryBytes(version(2)), ttlMs: 60_000, tags: [], ifVersion: null },
      { key: `${prefix}:b`, bytes: entryBytes(version(3)), ttlMs: 60_000, tags: [], ifVersion: version(1) },
    ])
    expect(results).toEqual([true, false, true])
  })
})

describe('invalidate', () => {
  it('leaves tombstones with their TTL and counts only live entries', async () => {
    const { l2, prefix } = tier()
    await raw.set(`${prefix}:live`, entryBytes(version(1)))
    await raw.set(`${prefix}:dead`, tombstoneBytes(version(2)))
    await raw.set(`${prefix}:foreign`, '{"legacy":true}')
    const keys = [`${prefix}:live`, `${prefix}:dead`, `${prefix}:absent`, `${prefix}:foreign`]
    expect(await l2.invalidate(keys, tomb(version(3)), 60_000)).toBe(2)
    for (const key of keys) {
      const bytes = await raw.getBuffer(key)
      expect(isTombstone(bytes)).toBe(true)
      expect(bytes?.subarray(1, 17).toString()).toBe(version(3))
      expect(await raw.pttl(key)).toBeGreaterThan(55_000)
    }
    // Invalidating again finds nothing live.
    expect(await l2.invalidate(keys, tomb(version(4)), 60_000)).toBe(0)
  })

  it('handles more keys than one batch', async () => {
    const { l2, prefix } = tier()
    const keys = Array.from({ length: 1_234 }, (_, i) => `${prefix}:k${i}`)
    await l2.setMany(keys.map((key) => ({ key, bytes: entryBytes(version(1)), ttlMs: 60_000, tags: [] })))
    expect(await l2.invalidate(keys, tomb(version(2)), 60_000)).toBe(1_234)
  })
})

describe('tags', () => {
  it('indexes members under the tag key with a TTL covering the longest member', async () => {
    const { l2, prefix } = tier()
    await l2.set({ key: `${prefix}:a`, bytes: entryBytes(version(1)), ttlMs: 10_000, tags: ['t'] })
    await l2.set({ key: `${prefix}:b`, bytes: entryBytes(version(1)), ttlMs: 100_000, tags: ['t', 't'] })
    await l2.set({ key: `${prefix}:c`, bytes: entryBytes(version(1)), ttlMs: 20_000, tags: ['t'] })
    const tagKey = `${prefix}:__tag:{t}`
    expect(l2.tagKey('t')).toBe(tagKey)
    expect(await raw.zrange(tagKey, 0, -1)).toEqual([`${prefix}:a`, `${prefix}:c`, `${prefix}:b`])
    const ttl = await raw.pttl(tagKey)
    expect(ttl).toBeGreaterThan(95_000)
    expect(ttl).toBeLessThanOrEqual(100_000)
  })

  it('prunes expired members on add and repairs a tag set without TTL', async () => {
    const { l2, prefix } = tier()
    const tagKey = `${prefix}:__tag:{t}`
    const past = Date.now() - 1_000
    await raw.zadd(tagKey, past, `${prefix}:old1`, past - 5_000, `${prefix}:old2`)
    expect(await raw.pttl(tagKey)).toBe(-1)
    await l2.set({ key: `${prefix}:new`, bytes: entryBytes(version(1)), ttlMs: 30_000, tags: ['t'] })
    expect(await raw.zrange(tagKey, 0, -1)).toEqual([`${prefix}:new`])
    expect(await raw.pttl(tagKey)).toBeGreaterThan(25_000)
  })

  it('invalidateTags over 10,000 tagged keys invalidates them all and leaves other keys', async () => {
    const { l2, prefix } = tier()
    const tagged = Array.from({ length: 10_000 }, (_, i) => `${prefix}:item:${i}`)
    for (let i = 0; i < tagged.length; i += 1_000) {
      await l2.setMany(
        tagged.slice(i, i + 1_000).map((key) => ({
          key,
          bytes: entryBytes(version(1)),
          ttlMs: 60_000,
          tags: ['big'],
        })),
      )
    }
    await l2.set({ key: `${prefix}:other`, bytes: entryBytes(version(1)), ttlMs: 60_000, tags: ['small'] })
    await l2.set({ key: `${prefix}:plain`, bytes: entryBytes(version(1)), ttlMs: 60_000, tags: [] })
    expect(await raw.zcard(`${prefix}:__tag:{big}`)).toBe(10_000)

    expect(await l2.tagEpochs(['big', 'small'])).toEqual([0, 0])
    const count = await l2.invalidateTags(['big'], tomb(version(2)), 60_000)
    expect(count).toBe(10_000)

    const values = await l2.getMany(tagged)
    expect(values.every((bytes) => isTombstone(bytes))).toBe(true)
    expect(await raw.exists(`${prefix}:__tag:{big}`)).toBe(0)
    expect(isTombstone(await raw.getBuffer(`${prefix}:other`))).toBe(false)
    expect(isTombstone(await raw.getBuffer(`${prefix}:plain`))).toBe(false)
    expect(await raw.zcard(`${prefix}:__tag:{small}`)).toBe(1)

    const [big, small] = await l2.tagEpochs(['big', 'small'])
    expect(big).toBeGreaterThan(0)
    expect(small).toBe(0)
    expect(await raw.pttl(`${prefix}:__tag:{big}:epoch`)).toBeGreaterThan(0)
    await l2.invalidateTags(['big'], tomb(version(3)), 60_000)
    expect((await l2.tagEpochs(['big']))[0]).toBe(big! + 1)
  })

  it('invalidating a tag that indexes nothing bumps its epoch and counts 0', async () => {
    const { l2 } = tier()
    expect(await l2.invalidateTags(['nothing'], tomb(version(1)), 60_000)).toBe(0)
    expect((await l2.tagEpochs(['nothing']))[0]).toBeGreaterThan(0)
  })
})

describe('patterns', () => {
  async function seed(prefix: string): Promise<void> {
    await raw.mset(
      `${prefix}:user:1`,
      'x',
      `${prefix}:user:2`,
      'x',
      `${prefix}:user:*`,
      'x',
      `${prefix}:users`,
      'x',
      `${prefix}:order:1`,
      'x',
      `other:${prefix}:user:1`,
      'x',
      `${prefix}x:user:1`,
      'x',
    )
  }

  it('deleteByPattern with a glob deletes the matches only, never outside the prefix', async () => {
    const { l2, prefix } = tier()
    await seed(prefix)
    expect(await l2.deleteByPattern(`${prefix}:user:*`)).toBe(3)
    expect(await raw.exists(`${prefix}:users`, `${prefix}:order:1`, `other:${prefix}:user:1`)).toBe(3)
    expect(await raw.exists(`${prefix}x:user:1`)).toBe(1)
  })

  it('deleteByPattern with an escaped literal deletes exactly that key', async () => {
    const { l2, prefix } = tier()
    await seed(prefix)
    expect(await l2.deleteByPattern(`${prefix}:user:\\*`)).toBe(1)
    expect(await raw.exists(`${prefix}:user:*`)).toBe(0)
    expect(await raw.exists(`${prefix}:user:1`, `${prefix}:user:2`)).toBe(2)
  })

  it('refuses a pattern outside the prefix', async () => {
    const { l2, prefix } = tier()
    await seed(prefix)
    await expect(l2.deleteByPattern('*')).rejects.toBeInstanceOf(InvalidKeyError)
    await expect(l2.deleteByPattern(`${prefix}*`)).rejects.toBeInstanceOf(InvalidKeyError)
    await expect(l2.countByPattern('other:*')).rejects.toBeInstanceOf(InvalidKeyError)
    expect(await raw.exists(`${prefix}x:user:1`, `other:${prefix}:user:1`)).toBe(2)
  })

  it('countByPattern counts and samples without deleting', async () => {
    const { l2, prefix } = tier()
    await seed(prefix)
    const { count, sample } = await l2.countByPattern(`${prefix}:*`, 2)
    expect(count).toBe(5)
    expect(sample).toHaveLength(2)
    expect(await raw.exists(`${prefix}:user:1`)).toBe(1)
  })

  it('deleteByPattern removes more keys than one SCAN batch', async () => {
    const { l2, prefix } = tier()
    const pipeline = raw.pipeline()
    for (let i = 0; i < 3_000; i++) pipeline.set(`${prefix}:bulk:${i}`, 'x')
    await pipeline.exec()
    expect(await l2.deleteByPattern(`${prefix}:bulk:*`)).toBe(3_000)
    expect((await l2.countByPattern(`${prefix}:*`)).count).toBe(0)
  })

  it('scanPage pagination covers every key', async () => {
    const { l2, prefix } = tier()
    const pipeline = raw.pipeline()
    for (let i = 0; i < 1_500; i++) pipeline.set(`${prefix}:p:${i}`, 'x')
    pipeline.set(`${prefix}x:p:0`, 'x')
    await pipeline.exec()
    const seen = new Set<string>()
    let cursor = '0'
    let pages = 0
    do {
      const page = await l2.scanPage(`${prefix}:p:*`, cursor, 100)
      for (const key of page.keys) seen.add(key)
      cursor = page.cursor
      pages++
    } while (cursor !== '0')
    expect(seen.size).toBe(1_500)
    expect(pages).toBeGreaterThan(1)
  })
})

describe('describe, ping, info', () => {
  it('describes type, TTL and memory of each key', async () => {
    const { l2, prefix } = tier()
    await raw.set(`${prefix}:s`, 'x'.repeat(1_000), 'PX', 60_000)
    await raw.zadd(`${prefix}:z`, 1, 'm')
    const [s, z, missing] = await l2.describe([`${prefix}:s`, `${prefix}:z`, `${prefix}:none`])
    expect(s!.type).toBe('string')
    expect(s!.pttl).toBeGreaterThan(0)
    expect(s!.bytes).toBeGreaterThan(1_000)
    expect(z).toMatchObject({ type: 'zset' })
    expect(z!.pttl).toBeUndefined()
    expect(missing).toEqual({ type: 'none' })
  })

  it('ping returns a round trip in ms; info has memory, stats, server and clients fields', async () => {
    const { l2 } = tier()
    const ms = await l2.ping()
    expect(ms).toBeGreaterThanOrEqual(0)
    expect(ms).toBeLessThan(2_000)
    const info = await l2.info()
    expect(Number(info.used_memory)).toBeGreaterThan(0)
    expect(info.maxmemory).toBeDefined()
    expect(info.evicted_keys).toBeDefined()
    expect(info.redis_version).toMatch(/^\d+\./)
    expect(Number(info.connected_clients)).toBeGreaterThan(0)
  })
})
