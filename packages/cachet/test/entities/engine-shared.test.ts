import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEntityCache } from '../../src/entities/index.js'
import { createCache, InvalidOptionError } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type User, UserSchema, user } from './fixtures.js'

let server: TestRedis
let redis: Redis

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
})

afterAll(async () => {
  server.resume()
  redis.disconnect()
  await server.stop()
})

/** Clients connected to the test server, this test's own inspecting client included. */
async function clientCount(): Promise<number> {
  return String(await redis.client('LIST'))
    .trim()
    .split('\n').length
}

describe('entity cache on the engine: createEntityCache({ cache })', () => {
  it("uses the engine's connection (no new one) and leaves it open on close()", async () => {
    const cache = createCache({
      redis: server.url,
      logger: false,
      l1: false,
      bus: false,
      l2: { timeout: '1s' },
    })
    await cache.set('warm', 1)
    const before = await clientCount()
    const users = createEntityCache<User>({ cache, schema: UserSchema })
    await users.set(user('1'))
    expect(await users.get('1')).toEqual(user('1'))
    expect(await clientCount()).toBe(before)
    await users.close()
    await cache.set('after', 2)
    expect(await cache.get('after')).toBe(2)
    await cache.close()
  })

  it("shares the engine's circuit breaker: entity failures open it for the engine too", {
    timeout: 60_000,
  }, async () => {
    const cache = createCache({
      redis: server.url,
      logger: false,
      l1: false,
      bus: false,
      // A 3 s deadline keeps "refused at once" (bound 1.5 s) apart from "waited for the deadline"
      // even when a starved machine runs every call late.
      l2: { timeout: '3s' },
    })
    const states: string[] = []
    cache.on('circuit', ({ state }) => states.push(state))
    const users = createEntityCache<User>({ cache, schema: UserSchema })
    await users.set(user('2'))
    server.pause()
    try {
      for (let i = 0; i < 3; i++) await expect(users.get('2')).rejects.toThrow()
      expect(states).toEqual(['open'])
      // The engine now fails fast on its own calls, without waiting for its 3 s deadline.
      const started = performance.now()
      await cache.get('anything')
      expect(performance.now() - started).toBeLessThan(1_500)
      expect((await cache.health()).redis.circuit).toBe('open')
    } finally {
      server.resume()
    }
    await users.close()
    await cache.close()
  })

  it('refuses both or neither of redis and cache, an L1-only cache, and a timeout of its own', async () => {
    const l1Only = createCache({ redis: false, logger: false })
    const withRedis = createCache({ redis: server.url, logger: false, bus: false })
    expect(() => createEntityCache({})).toThrow(InvalidOptionError)
    expect(() => createEntityCache({ cache: withRedis, redis: server.url })).toThrow(/either redis or cache/)
    expect(() => createEntityCache({ cache: l1Only })).toThrow(/no Redis/)
    expect(() => createEntityCache({ cache: withRedis, timeout: '1s' })).toThrow(/l2.timeout/)
    await l1Only.close()
    await withRedis.close()
  })
})
