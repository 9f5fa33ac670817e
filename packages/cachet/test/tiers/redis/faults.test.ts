import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { L2Error } from '../../../src/core/errors.js'
import { type ChaosProxy, startChaosProxy } from '../../../src/testing/index.js'
import { connectRedis, type RedisConnection } from '../../../src/tiers/redis/client.js'
import { L2Guard } from '../../../src/tiers/redis/guard.js'
import { RedisTier } from '../../../src/tiers/redis/redis-tier.js'
import { startRedis, type TestRedis } from '../../helpers/redis-server.js'
import { settlesAtOnce } from '../../helpers/settles-at-once.js'
import { entryBytes, version } from './envelope-bytes.js'

let redis: TestRedis
/** The tier talks to Redis through this proxy, which freezes and cuts the link on demand. */
let proxy: ChaosProxy
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
  proxy = await startChaosProxy({ target: { port: redis.port } })
  process.on('unhandledRejection', onUnhandled)
})

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  await proxy.close()
  await redis.stop()
})

beforeEach(async () => {
  connection = connectRedis(proxy.url, {
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
  proxy.heal()
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

describe('Redis frozen (the link holds every byte, sockets stay open)', () => {
  it('a GET rejects within 1 s, the circuit opens after 3 failures, and the tier recovers after the thaw', async () => {
    proxy.freeze()
    const first = await timeRejection(l2.get('f:a'))
    expect(first.error).toBeInstanceOf(L2Error)
    expect((first.error as Error).message).toMatch(/GET/)
    expect(first.ms).toBeLessThan(1_000)

    await timeRejection(l2.get('f:b'))
    await timeRejection(l2.get('f:c'))
    expect(guard.state).toBe('open')
    expect(guard.errors).toBeGreaterThanOrEqual(3)

    // Refused at once: settled before the loop's next turn, where waiting for the 200 ms deadline or
    // a reply would not be, however slow the machine.
    const refusing = l2.get('f:d')
    expect(await settlesAtOnce(refusing)).toBe(true)
    const refused = await timeRejection(refusing)
    expect((refused.error as Error).message).toMatch(/circuit open/)

    proxy.thaw()
    // Breaker duration (1 s) + a reconnect; generous for a shared machine.
    await until(() => l2.get('f:a'), 10_000)
    expect(guard.state).toBe('closed')
    expect(await l2.set({ key: 'f:a', bytes: entryBytes(version(1)), ttlMs: 10_000, tags: [] })).toBe(true)
  })

  it('a freeze longer than the socket timeout: the socket is dropped, calls stay bounded, and it reconnects', async () => {
    proxy.freeze()
    const started = Date.now()
    // Keep calling through the freeze: every call settles within the deadline or at once.
    while (Date.now() - started < 2_500) {
      const { ms } = await timeRejection(l2.get('f:a'))
      expect(ms).toBeLessThan(1_000)
      await sleep(100)
    }
    proxy.thaw()
    await until(() => l2.get('f:a'), 10_000)
  })

  it('documents E4: a write that timed out during the freeze still lands after the thaw', async () => {
    const raw = new Redis(redis.url)
    await raw.del('f:ghost')
    proxy.freeze()
    const write = await timeRejection(
      l2.set({ key: 'f:ghost', bytes: entryBytes(version(1), 'ghost'), ttlMs: 60_000, tags: [] }),
    )
    expect(write.error).toBeInstanceOf(L2Error)
    expect(write.ms).toBeLessThan(1_000)
    // Redis itself answers the test's own client: the write has not landed yet.
    expect(await raw.exists('f:ghost')).toBe(0)
    proxy.thaw()
    // The caller saw an error, yet the SET was already on its way.
    await until(async () => {
      const value = await raw.getBuffer('f:ghost')
      if (!value) throw new Error('not landed yet')
    }, 5_000)
    expect((await raw.getBuffer('f:ghost'))?.subarray(17).toString()).toBe('ghost')
    raw.disconnect()
  })
})

describe('Latency brown-out (replies slower than the deadline)', () => {
  it('each call gives up at the deadline, not at the reply; the circuit opens; it recovers when latency drops', async () => {
    // 1 s each way: a round trip of 2 s against a 200 ms deadline, so a late timer on a starved
    // machine still tells the deadline from the reply.
    proxy.latency(1_000)
    const first = await timeRejection(l2.get('f:a'))
    expect(first.error).toBeInstanceOf(L2Error)
    expect(first.ms).toBeGreaterThanOrEqual(150)
    expect(first.ms).toBeLessThan(1_800)
    await timeRejection(l2.get('f:b'))
    await timeRejection(l2.get('f:c'))
    expect(guard.state).toBe('open')
    proxy.latency(0)
    await until(() => l2.get('f:a'), 10_000)
    expect(guard.state).toBe('closed')
  })
})

describe('A black hole (every byte lost, sockets open), then healed', () => {
  it('calls stay bounded through the drop, and the tier works again once it ends', async () => {
    proxy.drop()
    const started = Date.now()
    while (Date.now() - started < 2_000) {
      const { ms, error } = await timeRejection(l2.get('f:a'))
      expect(error).toBeInstanceOf(L2Error)
      expect(ms).toBeLessThan(1_000)
      await sleep(100)
    }
    proxy.drop(false)
    await until(() => l2.set({ key: 'f:a', bytes: entryBytes(version(2)), ttlMs: 10_000, tags: [] }), 10_000)
    expect((await l2.get('f:a'))?.subarray(1, 17).toString()).toBe(version(2))
  })
})

describe('Redis unreachable (connections cut, new ones refused), then back', () => {
  it('fails fast while Redis is unreachable and works again once it is back', async () => {
    proxy.refuse()
    proxy.cut()
    const down = await timeRejection(l2.get('f:a'))
    expect(down.error).toBeInstanceOf(L2Error)
    expect(down.ms).toBeLessThan(1_000)
    for (let i = 0; i < 3; i++) await l2.get('f:a').catch(() => {})
    const refusing = l2.get('f:a')
    expect(await settlesAtOnce(refusing)).toBe(true)
    expect(((await timeRejection(refusing)).error as Error).message).toMatch(/circuit open/)

    // Stay down across a few reconnect attempts.
    await sleep(500)
    proxy.heal()
    await until(() => l2.set({ key: 'f:a', bytes: entryBytes(version(1)), ttlMs: 10_000, tags: [] }), 15_000)
    expect(await l2.get('f:a')).toBeDefined()
    expect(guard.state).toBe('closed')
  })

  it('connection errors reach onEvent (no "Unhandled error event")', async () => {
    expect(errorEvents.length).toBeGreaterThan(0)
    expect(errorEvents.every((error) => error instanceof Error)).toBe(true)
  })
})
