import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createEntityCache, type EntityCache } from '../../src/entities/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type User, UserSchema, user } from './fixtures.js'

let server: TestRedis
let redis: Redis
let cache: EntityCache<User>

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
  cache = createEntityCache<User>({ redis: server.url, schema: UserSchema })
})

afterAll(async () => {
  await cache.close()
  redis.disconnect()
  await server.stop()
})

beforeEach(async () => {
  await redis.flushdb()
})

describe('entity cache: version compare-and-set', () => {
  it('an older version never overwrites a newer one; an equal one rewrites (idempotent)', async () => {
    expect(await cache.set(user('1', 200, { fullName: 'new' }))).toBe(true)
    expect(await cache.set(user('1', 100, { fullName: 'old' }))).toBe(false)
    expect((await cache.get('1'))?.fullName).toBe('new')
    expect(await cache.set(user('1', 200, { fullName: 'new' }))).toBe(true)
    expect(cache.stats().staleWrites).toBe(1)
  })

  it('a newer write replaces the whole hash, so removed fields disappear', async () => {
    const loose = createEntityCache<Record<string, unknown>>({ redis: server.url })
    await loose.set({ id: 'r', extra: 'x', updatedAt: 1 })
    await loose.set({ id: 'r', updatedAt: 2 })
    expect(await loose.get('r')).toEqual({ id: 'r', updatedAt: 2 })
    await loose.close()
  })

  it('a tombstone with a version blocks older and same-version updates; a newer one resurrects', async () => {
    await cache.set(user('2', 100))
    expect(await cache.invalidate('2', { version: 150 })).toBe(true)
    expect(await cache.get('2')).toBeNull()
    expect(await cache.set(user('2', 120))).toBe(false)
    expect(await cache.set(user('2', 150))).toBe(false)
    expect(await cache.get('2')).toBeNull()
    expect(await cache.invalidate('2', { version: 140 })).toBe(false)
    expect(await cache.set(user('2', 160, { fullName: 'back' }))).toBe(true)
    expect((await cache.get('2'))?.fullName).toBe('back')
  })

  it('a tombstone is answered from Redis as "does not exist", without calling the fallback', async () => {
    let calls = 0
    const withFallback = createEntityCache<User>({
      redis: server.url,
      fetchOne: async (id) => {
        calls++
        return user(id)
      },
    })
    await withFallback.invalidate('3', { version: 10 })
    expect(await withFallback.get('3')).toBeNull()
    expect(await withFallback.batchGet(['3'])).toEqual(new Map())
    expect(calls).toBe(0)
    await withFallback.close()
  })

  it('a stale fallback load cannot overwrite what a newer event wrote meanwhile', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = createEntityCache<User>({
      redis: server.url,
      schema: UserSchema,
      fetchOne: async (id) => {
        await gate
        return user(id, 100, { fullName: 'stale read from the service' })
      },
    })
    const reading = slow.get('4')
    await new Promise((resolve) => setTimeout(resolve, 20))
    await cache.set(user('4', 200, { fullName: 'from the event' }))
    release()
    await reading
    await slow.settle()
    expect((await cache.get('4'))?.fullName).toBe('from the event')
    await slow.close()
  })

  it('any order of updates and deletes ends at the newest version (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .uniqueArray(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 12 })
          .chain((versions) =>
            fc.tuple(
              fc.constant(versions),
              fc.array(fc.boolean(), { minLength: versions.length, maxLength: versions.length }),
              fc.shuffledSubarray(versions, { minLength: versions.length, maxLength: versions.length }),
            ),
          ),
        async ([versions, deletes, order]) => {
          await redis.del('cache:__entity:user:profile:p')
          const isDelete = new Map(versions.map((version, index) => [version, deletes[index]!]))
          for (const version of order) {
            if (isDelete.get(version)) await cache.invalidate('p', { version })
            else await cache.set(user('p', version, { fullName: `v${version}` }))
          }
          const newest = Math.max(...versions)
          const final = await cache.get('p')
          if (isDelete.get(newest)) expect(final).toBeNull()
          else expect(final?.fullName).toBe(`v${newest}`)
        },
      ),
      { numRuns: 60 },
    )
  })
})
