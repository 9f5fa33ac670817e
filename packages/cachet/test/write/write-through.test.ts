import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineOf } from '../../src/core/engine-of.js'
import { type CacheApi, createCache } from '../../src/index.js'
import { writeThrough } from '../../src/write/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const ITERATIONS = 300
/** 0 to 3 ms, so the two sides of a race land in either order. */
const pause = () =>
  new Promise((resolve) =>
    Math.random() < 0.3 ? setImmediate(resolve) : setTimeout(resolve, 1 + Math.floor(Math.random() * 3)),
  )
const settle = (...caches: CacheApi[]) => Promise.all(caches.map((cache) => engineOf(cache).drain()))
let n = 0
const open = (prefix: string, l1 = true) =>
  createCache({ redis: redis.url, prefix, logger: false, l2: RELAXED_L2, ...(l1 ? {} : { l1: false }) })

describe('writeThrough', () => {
  it('a reader racing the write never leaves the old value cached', async () => {
    const prefix = `wt${n++}`
    const [writer, reader, check] = [open(prefix), open(prefix, false), open(prefix, false)]
    const db = new Map<string, string>()
    let stale = 0
    for (let i = 0; i < ITERATIONS; i++) {
      const key = `item:${i}`
      db.set(key, 'old')
      if (i % 3 === 0) await reader.getOrSet(key, () => db.get(key)!)
      const load = reader.getOrSet(
        key,
        async () => {
          const value = db.get(key)!
          await pause()
          return value
        },
        { forceRefresh: i % 3 === 0 },
      )
      const write = writeThrough(writer, key, async () => {
        await pause()
        db.set(key, 'new')
        return 'new'
      })
      await Promise.all([load, write])
      await settle(writer, reader)
      const cached = await check.get(key)
      if (cached === 'old') stale++
      expect(await check.getOrSet(key, () => db.get(key)!)).toBe('new')
    }
    expect(stale).toBe(0)
    await Promise.all([writer.close(), reader.close(), check.close()])
  })

  it('two racing writers never leave the value the database lost cached', async () => {
    const prefix = `wt${n++}`
    const [a, b, check] = [open(prefix), open(prefix), open(prefix, false)]
    const db = new Map<string, string>()
    let wrong = 0
    for (let i = 0; i < ITERATIONS; i++) {
      const key = `item:${i}`
      const update = (value: string) => async () => {
        await pause()
        db.set(key, value)
        await pause()
        return value
      }
      await Promise.all([writeThrough(a, key, update('a')), writeThrough(b, key, update('b'))])
      await settle(a, b)
      const cached = await check.get(key)
      if (cached !== undefined && cached !== db.get(key)) wrong++
    }
    expect(wrong).toBe(0)
    await Promise.all([a.close(), b.close(), check.close()])
  })

  it('stores the value with its tags; undefined invalidates; a failed write leaves the cache alone', async () => {
    const cache = open(`wt${n++}`)
    await cache.set('user:1', { name: 'old' })
    expect(await writeThrough(cache, 'user:1', () => ({ name: 'new' }), { tags: ['users'] })).toEqual({
      name: 'new',
    })
    expect(await cache.get('user:1')).toEqual({ name: 'new' })
    expect(await cache.invalidateTags(['users'])).toBe(1)

    await cache.set('user:2', 'kept')
    await expect(
      writeThrough(cache, 'user:2', () => {
        throw new Error('database refused')
      }),
    ).rejects.toThrow('database refused')
    expect(await cache.get('user:2')).toBe('kept')

    await writeThrough(cache, 'user:2', () => undefined)
    expect(await cache.get('user:2')).toBeUndefined()
    await expect(writeThrough(cache, '__reserved', () => 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    await cache.close()
  })

  it('works on a namespace and on an L1-only cache', async () => {
    const cache = open(`wt${n++}`)
    const users = cache.namespace('users')
    await writeThrough(users, '7', () => 'seven')
    expect(await cache.get('users:7')).toBe('seven')
    await cache.close()

    const local = createCache({ redis: false, logger: false })
    await local.set('k', 'old')
    await writeThrough(local, 'k', () => 'new')
    expect(await local.get('k')).toBe('new')
    await local.close()
  })
})
