import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createEntityCache, createStreamConsumer, publishEntityEvent } from '../../src/entities/index.js'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type User, UserSchema, user, waitFor } from './fixtures.js'

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

/** Every way an engine on the same Redis and the default prefix `cache` removes what it holds. */
async function engineInvalidatesEverything(): Promise<void> {
  const engine = createCache({ redis: server.url, prefix: 'cache', logger: false, l2: RELAXED_L2 })
  await engine.set('user:abc', 'a cached HTTP response of type user', { tags: ['users'] })
  await engine.deleteByPattern('user:*') // what an HTTP invalidation of type `user` runs
  await engine.deleteByPattern('*')
  await engine.invalidateTags(['users'])
  await engine.clear()
  await engine.close()
}

describe('the entity cache keeps its keys apart from the engine', () => {
  it('entities survive every engine invalidation: they still hit, and a stream update is applied', async () => {
    const fetchOne = vi.fn(async (id: string) => user(id, 100))
    const users = createEntityCache<User>({ redis: server.url, schema: UserSchema, fetchOne, timeout: '1s' })
    const sync = createStreamConsumer<User>({
      redis: server.url,
      stream: 'events:users',
      group: 'apart',
      consumer: 'c1',
      entityCache: users,
      block: '100ms',
    })
    await sync.start()
    await users.set(user('42', 100))

    await engineInvalidatesEverything()

    expect(await redis.type(users.keyOf('42'))).toBe('hash')
    expect(await users.get('42')).toEqual(user('42', 100))
    expect(fetchOne).not.toHaveBeenCalled()
    expect(users.stats()).toMatchObject({ hits: 1, misses: 0 })

    const renamed = user('42', 200, { fullName: 'Ada Lovelace' })
    await publishEntityEvent(redis, 'events:users', {
      type: 'user.profile.updated',
      id: '42',
      payload: renamed,
      version: 200,
    })
    await waitFor(() => sync.stats().acked === 1, 5_000)
    expect(sync.stats()).toMatchObject({ applied: 1, stale: 0 })
    expect(await users.get('42')).toEqual(renamed)
    expect(fetchOne).not.toHaveBeenCalled()
    await sync.stop()
    await users.close()
  })

  it("with seed 002's own names (prefix 'cache'), an engine invalidation still leaves the hashes alone", async () => {
    const fetchOne = vi.fn(async (id: string) => user(id, 100))
    const users = createEntityCache<User>({
      redis: server.url,
      prefix: 'cache',
      schema: UserSchema,
      fetchOne,
    })
    await users.set(user('42', 100))
    expect(users.keyOf('42')).toBe('cache:user:profile:42')

    const engine = createCache({ redis: server.url, prefix: 'cache', logger: false, l2: RELAXED_L2 })
    await engine.deleteByPattern('user:*')
    await engine.close()

    expect(await users.get('42')).toEqual(user('42', 100))
    expect(fetchOne).not.toHaveBeenCalled()
    await users.close()
  })
})
