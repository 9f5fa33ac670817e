import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { L2Error } from '../../src/core/errors.js'
import { createEntityCache } from '../../src/entities/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type User, UserSchema, user } from './fixtures.js'

let server: TestRedis
let unhandled = 0
const onUnhandled = () => {
  unhandled++
}

beforeAll(async () => {
  server = await startRedis()
  process.on('unhandledRejection', onUnhandled)
})

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  await server.stop()
})

afterEach(() => {
  server.resume()
})

describe('entity cache: Redis frozen (SIGSTOP)', () => {
  it('reads are answered by the fallback within a bounded time, then Redis is used again after SIGCONT', async () => {
    const cache = createEntityCache<User>({
      redis: server.url,
      schema: UserSchema,
      timeout: '100ms',
      // The service answers an older version than the cached one: the fallback writes that time out
      // can still land after SIGCONT (RELIABILITY E4), and the version check must refuse them.
      fetchOne: async (id) => user(id, 1, { fullName: 'from the service' }),
      fetchMany: async (ids) => ids.map((id) => user(id, 1, { fullName: 'from the service' })),
    })
    await cache.set(user('1', 2, { fullName: 'cached' }))
    server.pause()

    const started = Date.now()
    const results = []
    for (let i = 0; i < 10; i++) results.push(await cache.get('1'))
    const batch = await cache.batchGet(['1', '2', '3'])
    const fields = await cache.getFields('1', ['fullName'])
    const elapsed = Date.now() - started

    for (const result of results) expect(result?.fullName).toBe('from the service')
    expect(batch.size).toBe(3)
    expect(fields).toEqual({ fullName: 'from the service' })
    // A few deadlines (~120 ms each) until the circuit opens, then no wait at all.
    expect(elapsed).toBeLessThan(3_000)
    expect(cache.stats().errors).toBeGreaterThan(0)
    await cache.settle()

    server.resume()
    // The circuit stays open 5 s, then one probe closes it.
    const deadline = Date.now() + 15_000
    let value: User | null = null
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      const hitsBefore = cache.stats().hits
      value = await cache.get('1')
      if (cache.stats().hits > hitsBefore) break
    }
    expect(value?.fullName).toBe('cached')
    await cache.close()
    expect(unhandled).toBe(0)
  }, 30_000)

  it('without a fallback a read fails fast with L2Error instead of hanging or reporting "not found"', async () => {
    const cache = createEntityCache<User>({ redis: server.url, timeout: '100ms' })
    await cache.set(user('1'))
    server.pause()
    const started = Date.now()
    await expect(cache.get('1')).rejects.toBeInstanceOf(L2Error)
    expect(Date.now() - started).toBeLessThan(2_000)
    await expect(cache.set(user('1', 2))).rejects.toBeInstanceOf(L2Error)
    server.resume()
    await cache.close()
  })
})
