import type { StandardSchemaV1 } from '@standard-schema/spec'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { InvalidOptionError, SchemaMismatchError } from '../../src/index.js'
import { createMetrics } from '../../src/metrics/prometheus.js'
import { redisSuite } from '../helpers/redis-suite.js'

const suite = redisSuite({ earlyRefresh: false })
const newCache = suite.cache

const User = z.object({ name: z.string(), email: z.string() })
const oldUser = { name: 'Ada' }
const newUser = { name: 'Ada', email: 'ada@example.com' }

/** A Standard Schema that answers asynchronously (as a validator reaching a service would). */
const asyncUser: StandardSchemaV1<unknown, { name: string; email: string }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: async (value) => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      const ok = typeof (value as { email?: unknown } | null)?.email === 'string'
      return ok ? { value: value as { name: string; email: string } } : { issues: [{ message: 'no email' }] }
    },
  },
}

describe('schema-checked reads', () => {
  it('a cached value the schema refuses (L1 and Redis) is a miss: the loader runs, counted once, in stats and metrics', async () => {
    const cache = newCache()
    const metrics = createMetrics(cache)
    const events: Array<{ key: string; migrated: boolean }> = []
    cache.on('invalid', (event) => events.push(event))
    await cache.set('users:1', oldUser) // the old shape, in L1 and Redis
    let calls = 0
    const loader = async () => {
      calls++
      return newUser
    }
    expect(await cache.getOrSetResult('users:1', loader, { schema: User })).toMatchObject({
      value: newUser,
      outcome: 'miss',
      source: 'loader',
    })
    expect(await cache.getOrSet('users:1', loader, { schema: User })).toEqual(newUser)
    expect(calls).toBe(1)
    expect(cache.stats().invalid).toBe(1)
    expect(cache.stats().namespaces.users?.invalid).toBe(1)
    expect(events).toEqual([{ key: 'users:1', migrated: false }])
    expect(await metrics.metrics()).toMatch(
      /cachet_invalid_values_total\{namespace="users",result="miss"\} 1/,
    )
    // The loader's value replaced the old one in Redis.
    const other = newCache({ prefix: cache.prefix })
    await expect.poll(() => other.get('users:1'), { timeout: 2000 }).toEqual(newUser)
    metrics.close()
    await Promise.all([cache.close(), other.close()])
  })

  it('migrate turns an old shape into the new one without the loader, and writes it back', async () => {
    const writer = newCache()
    await writer.set('users:2', oldUser, { ttl: '1h' })
    const reader = newCache({ prefix: writer.prefix })
    const events: Array<{ migrated: boolean }> = []
    reader.on('invalid', (event) => events.push(event))
    let calls = 0
    const migrate = (old: unknown) => ({ ...(old as object), email: 'ada@example.com' })
    const result = await reader.getOrSetResult(
      'users:2',
      async () => {
        calls++
        return { name: 'loaded', email: 'x' }
      },
      { schema: User, migrate },
    )
    expect(result).toMatchObject({ value: newUser, outcome: 'hit', source: 'l2' })
    expect(calls).toBe(0)
    expect(events).toEqual([{ key: 'users:2', migrated: true }])
    // Written back: a reader with no schema at all now finds the new shape in Redis, ttl kept.
    const third = newCache({ prefix: writer.prefix })
    await expect.poll(() => third.get('users:2'), { timeout: 2000 }).toEqual(newUser)
    expect(await third.ttl('users:2')).toBeGreaterThan(3_000_000)
    await Promise.all([writer.close(), reader.close(), third.close()])
  })

  it('a migrate that cannot mend the value (undefined, refused again) leaves a miss', async () => {
    const cache = newCache()
    await cache.set('users:3', oldUser)
    const loaded = await cache.getOrSet('users:3', async () => newUser, {
      schema: User,
      migrate: (old) => ((old as { name?: string }).name === 'nobody' ? newUser : undefined),
    })
    expect(loaded).toEqual(newUser)
    await cache.set('users:4', oldUser)
    const again = await cache.getOrSet('users:4', async () => newUser, {
      schema: User,
      migrate: (old) => old,
    })
    expect(again).toEqual(newUser)
    expect(cache.stats().invalid).toBe(2)
    await cache.close()
  })

  it("the loader's own value is checked: a bad shape throws SchemaMismatchError and caches nothing", async () => {
    const cache = newCache()
    const error = await cache
      .getOrSet('users:5', async () => oldUser, { schema: User })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SchemaMismatchError)
    expect((error as Error).message).toMatch(/users:5.*email/)
    expect(await cache.get('users:5')).toBeUndefined()
    await cache.close()
  })

  it('a refused loaded value fails the load for every kind of loader and schema, and a stale value is served instead', async () => {
    const cache = newCache()
    const loads: boolean[] = []
    cache.on('load', ({ ok }) => loads.push(ok))
    const loaders = { sync: () => oldUser, async: async () => oldUser }
    const schemas = { sync: User, async: asyncUser }
    for (const [loaderKind, loader] of Object.entries(loaders)) {
      for (const [schemaKind, schema] of Object.entries(schemas)) {
        const key = `refused:${loaderKind}:${schemaKind}`
        await expect(cache.getOrSet(key, loader, { schema }), key).rejects.toBeInstanceOf(SchemaMismatchError)
        expect(await cache.get(key), key).toBeUndefined()
        // With a stale value in hand, a refused load is a loader failure: the stale value is served.
        await cache.set(key, newUser, { ttl: 1, grace: '1h' })
        await new Promise((resolve) => setTimeout(resolve, 5))
        const result = await cache.getOrSetResult(key, loader, { schema })
        expect(result, key).toMatchObject({ outcome: 'stale', value: newUser, staleReason: 'fail-safe' })
      }
    }
    expect(loads).toEqual(Array(8).fill(false))
    await cache.close()
  })

  it('async validators work, and a copy accepted once is not validated again on each L1 hit', async () => {
    const cache = newCache()
    let validations = 0
    const counting: StandardSchemaV1 = {
      '~standard': {
        ...asyncUser['~standard'],
        validate: (value) => {
          validations++
          return asyncUser['~standard'].validate(value)
        },
      },
    }
    await cache.set('users:6', oldUser)
    let calls = 0
    const loader = async () => {
      calls++
      return newUser
    }
    expect(await cache.getOrSet('users:6', loader, { schema: counting })).toEqual(newUser)
    expect(calls).toBe(1)
    expect(cache.stats().invalid).toBe(1)
    // The loaded copy: read back from Redis once (the L1 copy is checked asynchronously), then L1.
    for (let i = 0; i < 20; i++)
      expect(await cache.getOrSet('users:6', loader, { schema: counting })).toEqual(newUser)
    expect(calls).toBe(1)
    expect(validations).toBeLessThan(10)
    await cache.close()
  })

  it('a namespace schema checks every read of the view, get() included', async () => {
    const cache = newCache()
    const users = cache.namespace('users', { schema: User })
    await cache.set('users:7', oldUser)
    expect(await users.get('7')).toBeUndefined()
    expect(await cache.get('users:7')).toEqual(oldUser) // the root view has no schema
    let calls = 0
    expect(
      await users.getOrSet('7', async () => {
        calls++
        return newUser
      }),
    ).toEqual(newUser)
    expect(calls).toBe(1)
    expect(await users.get('7')).toEqual(newUser)
    expect(cache.stats().invalid).toBe(2)
    // A nested view keeps it; a migrate on the namespace mends old values for get() too.
    const mending = cache.namespace('people', {
      schema: User,
      migrate: (old) => ({ ...(old as object), email: 'm@example.com' }),
    })
    await cache.set('people:8', oldUser)
    expect(await mending.namespace('x').get('8')).toBeUndefined()
    expect(await mending.get('8')).toEqual({ name: 'Ada', email: 'm@example.com' })
    await cache.close()
  })

  it('a value written meanwhile by an instance without the schema (a rolling deploy) is refused after the lock wait', async () => {
    const prefix = `deploy${Math.random().toString(36).slice(2, 8)}`
    const oldInstance = newCache({ prefix })
    const newInstance = newCache({ prefix })
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    const writing = oldInstance.getOrSet('users:9', async () => {
      await released
      return oldUser
    })
    await new Promise((resolve) => setTimeout(resolve, 200)) // the old instance holds the lock
    let calls = 0
    const reading = newInstance.getOrSet(
      'users:9',
      async () => {
        calls++
        return newUser
      },
      { schema: User },
    )
    await new Promise((resolve) => setTimeout(resolve, 200)) // the new one waits for it
    release()
    expect(await writing).toEqual(oldUser)
    expect(await reading).toEqual(newUser)
    expect(calls).toBe(1)
    expect(newInstance.stats().invalid).toBe(1)
    await Promise.all([oldInstance.close(), newInstance.close()])
  })

  it('wrap() takes a schema: a cached result it refuses runs the function again', async () => {
    const cache = newCache()
    await cache.set('fn:profile', oldUser)
    let calls = 0
    const profile = cache.wrap(
      async function profile() {
        calls++
        return newUser
      },
      { schema: User },
    )
    expect(await profile()).toEqual(newUser)
    expect(await profile()).toEqual(newUser)
    expect(calls).toBe(1)
    expect(cache.stats().invalid).toBe(1)
    await cache.close()
  })

  it('batch reads are checked too: getMany answers a refused value as a miss, getOrSetMany loads it again', async () => {
    const cache = newCache()
    const users = cache.namespace('users', { schema: User })
    await cache.setMany([
      { key: 'users:10', value: oldUser },
      { key: 'users:11', value: newUser },
    ])
    expect(await users.getMany(['10', '11'])).toEqual([undefined, newUser])
    const asked: string[][] = []
    const values = await users.getOrSetMany(['10', '11'], async (missing) => {
      asked.push(missing)
      return missing.map(() => newUser)
    })
    expect(values).toEqual([newUser, newUser])
    expect(asked).toEqual([['10']])
    expect(cache.stats().invalid).toBe(2)
    // The loaded value replaced the refused one in Redis (its version was kept for the write-back).
    const other = newCache({ prefix: cache.prefix })
    await expect.poll(() => other.get('users:10'), { timeout: 2000 }).toEqual(newUser)
    // migrate mends batch reads as well.
    await cache.set('users:12', oldUser)
    const mended = await cache.getMany(['users:12'], {
      schema: User,
      migrate: (old) => ({ ...(old as object), email: 'b@example.com' }),
    })
    expect(mended).toEqual([{ name: 'Ada', email: 'b@example.com' }])
    // A batch loader returning a refused value caches nothing.
    await expect(users.getOrSetMany(['13'], async () => [oldUser])).rejects.toBeInstanceOf(
      SchemaMismatchError,
    )
    expect(await cache.get('users:13')).toBeUndefined()
    await Promise.all([cache.close(), other.close()])
  })

  it('refuses a schema that is not a Standard Schema, and migrate without one, before the loader runs', async () => {
    const cache = newCache()
    let calls = 0
    const loader = async () => ++calls
    await expect(cache.getOrSet('k', loader, { schema: {} as StandardSchemaV1 })).rejects.toBeInstanceOf(
      InvalidOptionError,
    )
    await expect(cache.getOrSet('k', loader, { migrate: (v) => v })).rejects.toThrow(/migrate needs a schema/)
    expect(() => cache.namespace('n', { schema: { parse() {} } as unknown as StandardSchemaV1 })).toThrow(
      InvalidOptionError,
    )
    expect(calls).toBe(0)
    await cache.close()
  })
})
