import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { L2Error } from '../../../src/core/errors.js'
import { connectRedis, type RedisConnection } from '../../../src/tiers/redis/client.js'
import { L2Guard } from '../../../src/tiers/redis/guard.js'
import { RedisTier } from '../../../src/tiers/redis/redis-tier.js'
import { startRedis, type TestRedis } from '../../helpers/redis-server.js'
import { entryBytes, version } from './envelope-bytes.js'

let redis: TestRedis
let connection: RedisConnection
let guard: L2Guard
let l2: RedisTier
const errorEvents: Error[] = []
let unhandled = 0
const onUnhandled = () => {
  unhandled++
}

beforeAll(async () => {
  redis = await startRedis()
  process.on('unhandledRejection', onUnhandled)
})

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  await redis.stop()
})

beforeEach(async () => {
  connection = connectRedis(redis.url, {
    timeoutMs: 200,
    onEvent: (state, error) => {
      if (state === 'error' && error) errorEvents.push(error)
    },
  })
  guard = new L2Guard({ timeoutMs: 200, breaker: { threshold: 3, durationMs: 1_000 } })
  l2 = new RedisTier(connection, guard, { prefix: 'f' })
  await l2.ping()
})

afterEach(async () => {
  redis.resume()
  await connection.close()
  // Late settlements of timed-out commands must not surface as unhandled rejections.
  await sleep(300)
  expect(unhandled).toBe(0)
})

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** How long a promise takes to reject, and with what. */
async function timeRejection(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now()
  try {
    await promise
  } catch (error) {
    return { ms: Date.now() - started, error }
  }
  throw new Error('expected a rejection')
}

/** Retries `fn` until it resolves; fails after `limitMs`. Resolves the ms it took. */
async function until(fn: () => Promise<unknown>, limitMs: number): Promise<number> {
  const started = Date.now()
  for (;;) {
    try {
      await fn()
      return Date.now() - started
    } catch (error) {
      if (Date.now() - started > limitMs) throw error
      await sleep(100)
    }
  }
}

describe('Redis frozen (SIGSTOP)', () => {
  it('a GET rejects within 1 s, the circuit opens after 3 failures, and the tier recovers after SIGCONT', async () => {
    redis.pause()
    const first = await timeRejection(l2.get('f:a'))
    expect(first.error).toBeInstanceOf(L2Error)
    expect((first.error as Error).message).toMatch(/GET/)
    expect(first.ms).toBeLessThan(1_000)

    await timeRejection(l2.get('f:b'))
    await timeRejection(l2.get('f:c'))
    expect(guard.state).toBe('open')
    expect(guard.errors).toBeGreaterThanOrEqual(3)

    const refused = await timeRejection(l2.get('f:d'))
    // Refused at once: well under the 100 ms a deadline would take (generous for a loaded machine).
    expect(refused.ms).toBeLessThan(90)
    expect((refused.error as Error).message).toMatch(/circuit open/)

    redis.resume()
    // Breaker duration (1 s) + a reconnect; generous for a shared machine.
    await until(() => l2.get('f:a'), 10_000)
    expect(guard.state).toBe('closed')
    expect(await l2.set({ key: 'f:a', bytes: entryBytes(version(1)), ttlMs: 10_000, tags: [] })).toBe(true)
  })

  it('a freeze longer than the socket timeout: the socket is dropped, calls stay bounded, and it reconnects', async () => {
    redis.pause()
    const started = Date.now()
    // Keep calling through the freeze: every call settles within the deadline or at once.
    while (Date.now() - started < 2_500) {
      const { ms } = await timeRejection(l2.get('f:a'))
      expect(ms).toBeLessThan(1_000)
      await sleep(100)
    }
    redis.resume()
    await until(() => l2.get('f:a'), 10_000)
  })

  it('documents E4: a write that timed out during the freeze still lands after SIGCONT', async () => {
    const raw = new Redis(redis.url)
    await raw.del('f:ghost')
    redis.pause()
    const write = await timeRejection(
      l2.set({ key: 'f:ghost', bytes: entryBytes(version(1), 'ghost'), ttlMs: 60_000, tags: [] }),
    )
    expect(write.error).toBeInstanceOf(L2Error)
    expect(write.ms).toBeLessThan(1_000)
    redis.resume()
    // The caller saw an error, yet the SET was already in the server's socket buffer.
    await until(async () => {
      const value = await raw.getBuffer('f:ghost')
      if (!value) throw new Error('not landed yet')
    }, 5_000)
    expect((await raw.getBuffer('f:ghost'))?.subarray(17).toString()).toBe('ghost')
    raw.disconnect()
  })
})

describe('Redis killed and restarted', () => {
  it('fails fast while Redis is down and works again after the restart', async () => {
    await redis.kill()
    const down = await timeRejection(l2.get('f:a'))
    expect(down.error).toBeInstanceOf(L2Error)
    expect(down.ms).toBeLessThan(1_000)
    for (let i = 0; i < 3; i++) await l2.get('f:a').catch(() => {})
    const refused = await timeRejection(l2.get('f:a'))
    expect(refused.ms).toBeLessThan(90)

    // Stay down across a few reconnect attempts.
    await sleep(500)
    await redis.restart()
    await until(() => l2.set({ key: 'f:a', bytes: entryBytes(version(1)), ttlMs: 10_000, tags: [] }), 15_000)
    expect(await l2.get('f:a')).toBeDefined()
    expect(guard.state).toBe('closed')
  })

  it('connection errors reach onEvent (no "Unhandled error event")', async () => {
    expect(errorEvents.length).toBeGreaterThan(0)
    expect(errorEvents.every((error) => error instanceof Error)).toBe(true)
  })
})
