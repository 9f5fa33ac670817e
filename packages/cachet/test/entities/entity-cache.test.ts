import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createEntityCache } from '../../src/entities/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type User, UserSchema, user } from './fixtures.js'

let server: TestRedis
let redis: Redis

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
})

afterAll(async () => {
  redis.disconnect()
  await server.stop()
})

beforeEach(async () => {
  await redis.flushdb()
})

describe('entity cache: reads and writes', () => {
  it('stores an entity as a hash under cache:__entity:user:profile:id with a 7-day TTL and reads it back typed', async () => {
    const cache = createEntityCache<User>({ redis: server.url, schema: UserSchema })
    const alice = user('1')
    expect(await cache.set(alice)).toBe(true)

    expect(await redis.type('cache:__entity:user:profile:1')).toBe('hash')
    const ttl = await redis.pttl('cache:__entity:user:profile:1')
    expect(ttl).toBeGreaterThan(7 * 86_400_000 - 60_000)
    expect(ttl).toBeLessThanOrEqual(7 * 86_400_000)
    expect(await redis.hget('cache:__entity:user:profile:1', '__v')).toBe(String(alice.updatedAt))

    const back = await cache.get('1')
    expect(back).toEqual(alice)
    expect(back?.joinedAt).toBeInstanceOf(Date)
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 0, fallbacks: 0 })
  })

  it('keeps 0, empty strings, false and null as values, not misses', async () => {
    const cache = createEntityCache<User>({ redis: server.url, schema: UserSchema })
    const edge = user('2', 5, { fullName: '', age: 0, active: false, avatar: null })
    await cache.set(edge)
    expect(await cache.get('2')).toEqual(edge)
  })

  it('reads hashes written by the seed system (plain strings, no version) without a flush', async () => {
    await redis.hset('cache:user:profile:9', {
      fullName: 'Jean Dupont',
      matricule: 'MAT001',
      updatedAt: '1736862000000',
    })
    const cache = createEntityCache<Record<string, unknown>>({ redis, prefix: 'cache' })
    expect(await cache.get('9')).toEqual({
      fullName: 'Jean Dupont',
      matricule: 'MAT001',
      updatedAt: 1736862000000,
    })
  })

  it('reads only some fields with HMGET, typed by the schema field by field', async () => {
    const cache = createEntityCache<User>({ redis, schema: UserSchema })
    await cache.set(user('3'))
    const spy = vi.spyOn(redis, 'hmget')
    const fields = await cache.getFields('3', ['fullName', 'joinedAt', 'active'])
    expect(fields).toEqual({
      fullName: 'User 3',
      joinedAt: new Date('2024-01-15T10:00:00.000Z'),
      active: true,
    })
    expect(spy).toHaveBeenCalledTimes(1)
    spy.mockRestore()
  })

  it('stores only the configured fields', async () => {
    const cache = createEntityCache<User>({ redis: server.url, fields: ['id', 'fullName', 'updatedAt'] })
    await cache.set(user('4'))
    expect(Object.keys(await redis.hgetall('cache:__entity:user:profile:4')).sort()).toEqual([
      '__v',
      'fullName',
      'id',
      'updatedAt',
    ])
  })

  it('falls back to fetchOne on a miss, stores the result, and loads once for concurrent callers', async () => {
    const fetchOne = vi.fn(async (id: string) => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      return id === 'ghost' ? null : user(id)
    })
    const cache = createEntityCache<User>({ redis: server.url, schema: UserSchema, fetchOne })
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.get('5')))
    expect(fetchOne).toHaveBeenCalledTimes(1)
    for (const result of results) expect(result).toEqual(user('5'))
    await cache.settle()
    expect(await redis.exists('cache:__entity:user:profile:5')).toBe(1)
    expect(await cache.get('5')).toEqual(user('5'))
    expect(fetchOne).toHaveBeenCalledTimes(1)

    expect(await cache.get('ghost')).toBeNull()
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 21, fallbacks: 2 })
  })

  it('getFields on a miss loads the whole entity once and returns the asked fields', async () => {
    const fetchOne = vi.fn(async (id: string) => user(id))
    const cache = createEntityCache<User>({ redis: server.url, schema: UserSchema, fetchOne })
    expect(await cache.getFields('6', ['matricule'])).toEqual({ matricule: 'MAT6' })
    await cache.settle()
    expect(await redis.hget('cache:__entity:user:profile:6', 'ministere')).toBe('MINFOP')
  })

  it('invalidate() drops the entity; the next get() reloads it', async () => {
    const fetchOne = vi.fn(async (id: string) => user(id))
    const cache = createEntityCache<User>({ redis: server.url, schema: UserSchema, fetchOne })
    await cache.set(user('7'))
    expect(await cache.invalidate('7')).toBe(true)
    expect(await redis.exists('cache:__entity:user:profile:7')).toBe(0)
    await cache.get('7')
    expect(fetchOne).toHaveBeenCalledTimes(1)
  })

  it('clear() removes only its own namespace, with SCAN', async () => {
    const cache = createEntityCache<User>({ redis })
    for (let i = 0; i < 1_200; i++) await cache.set(user(String(i)))
    await redis.set('cache:other:1', 'x')
    await redis.hset('cache:__entity:user:profiles:1', 'a', '1') // a sibling namespace that only shares a prefix
    expect(await cache.clear()).toBe(1_200)
    expect(await redis.dbsize()).toBe(2)
  })
})

describe('entity cache: batchGet', () => {
  it('100 ids with 40 misses: one pipeline read, one fetchMany call with exactly the 40, one pipeline write', async () => {
    const cache = createEntityCache<User>({
      redis: server.url,
      schema: UserSchema,
      fetchMany: async (ids) => ids.map((id) => user(id)),
    })
    const ids = Array.from({ length: 100 }, (_, i) => String(i))
    for (const id of ids.slice(0, 60)) await cache.set(user(id))
    const fetchMany = vi.fn(async (missing: string[]) => missing.map((id) => user(id)))
    const counted = createEntityCache<User>({ redis, schema: UserSchema, fetchMany })
    const pipelines = vi.spyOn(redis, 'pipeline')

    const found = await counted.batchGet(ids)
    await counted.settle()

    expect(found.size).toBe(100)
    for (const id of ids) expect(found.get(id)).toEqual(user(id))
    expect(fetchMany).toHaveBeenCalledTimes(1)
    expect([...fetchMany.mock.calls[0]![0]].sort()).toEqual(ids.slice(60).sort())
    expect(pipelines).toHaveBeenCalledTimes(2) // one read, one write
    expect(await redis.exists(...ids.map((id) => `cache:__entity:user:profile:${id}`))).toBe(100)
    expect(counted.stats()).toMatchObject({ hits: 60, misses: 40, fallbacks: 1 })
    pipelines.mockRestore()
    await cache.close()
  })

  it('measures 100 cached entities in one round trip well under the seed figure of ~100 ms', async () => {
    const cache = createEntityCache<User>({ redis: server.url, schema: UserSchema, timeout: '1s' })
    const ids = Array.from({ length: 100 }, (_, i) => String(i))
    for (const id of ids) await cache.set(user(id))
    await cache.batchGet(ids) // warm the connection and the code path
    const runs: number[] = []
    for (let i = 0; i < 20; i++) {
      const started = performance.now()
      const found = await cache.batchGet(ids)
      runs.push(performance.now() - started)
      expect(found.size).toBe(100)
    }
    runs.sort((a, b) => a - b)
    const median = runs[10]!
    console.log(`batchGet(100 hits): median ${median.toFixed(2)} ms, min ${runs[0]!.toFixed(2)} ms`)
    // Generous bound for a shared 2-core machine; typical is ~1 ms.
    expect(median).toBeLessThan(200)
  })

  it('deduplicates ids and leaves out ids the source does not know', async () => {
    const fetchMany = vi.fn(async (ids: string[]) => ids.filter((id) => id !== 'x').map((id) => user(id)))
    const cache = createEntityCache<User>({ redis: server.url, fetchMany })
    const found = await cache.batchGet(['a', 'a', 'x', 'b'])
    expect([...found.keys()].sort()).toEqual(['a', 'b'])
    expect(fetchMany.mock.calls[0]![0]).toEqual(['a', 'x', 'b'])
  })
})
