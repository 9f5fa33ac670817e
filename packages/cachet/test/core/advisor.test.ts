import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Advice } from '../../src/core/advisor.js'
import { type CacheOptions, createCache, InvalidOptionError } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let admin: Redis

/** A Redis a pure cache should run on: bounded, evicting any key, no persistence. */
async function wellConfigured(): Promise<void> {
  await admin.config('SET', 'maxmemory', '64mb')
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
  await admin.config('SET', 'appendonly', 'no')
  await admin.config('SET', 'save', '')
}

/** Starts a cache, collects its advice events and log lines until Redis's settings were judged. */
async function adviceOf(options: CacheOptions = {}): Promise<{
  codes: string[]
  events: Advice[]
  logged: Array<{ code: string; msg: string }>
  health: Awaited<ReturnType<ReturnType<typeof createCache>['health']>>
}> {
  const logged: Array<{ code: string; msg: string }> = []
  const logger = pino(
    { level: 'warn' },
    { write: (line: string) => logged.push(JSON.parse(line) as { code: string; msg: string }) },
  )
  const cache = createCache({ redis: redis.url, logger, l2: RELAXED_L2, ...options })
  const events: Advice[] = []
  cache.on('advice', (advice) => events.push(advice))
  // A first answer means the connection was ready, so the Redis half is being judged; close() waits for
  // that background read, and health() still lists the advice afterwards.
  expect((await cache.health()).redis.connected).toBe(true)
  await cache.close()
  const health = await cache.health()
  return { codes: events.map((e) => e.code).sort(), events, logged, health }
}

beforeAll(async () => {
  redis = await startRedis()
  admin = new Redis(redis.url)
})
afterAll(async () => {
  admin.disconnect()
  await redis.stop()
})
beforeEach(wellConfigured)

describe('start-up advisor', () => {
  it('says nothing about a well-configured cache on a well-configured Redis', async () => {
    const { codes, logged, health } = await adviceOf()
    expect(codes).toEqual([])
    expect(logged.filter((line) => line.code)).toEqual([])
    expect(health.advice).toEqual([])
  })

  it('redis-noeviction: one warning, one event and a line in health(), each with its fix', async () => {
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    const { codes, events, logged, health } = await adviceOf()
    expect(codes).toEqual(['redis-noeviction'])
    expect(events[0]!.fix).toMatch(/allkeys-lru/)
    expect(logged.filter((line) => line.code === 'redis-noeviction')).toHaveLength(1)
    expect(logged.find((line) => line.code)?.msg).toMatch(/noeviction/)
    expect(health.advice.map((a) => a.code)).toEqual(['redis-noeviction'])
  })

  it('redis-volatile-eviction under volatile-lru and volatile-ttl', async () => {
    for (const policy of ['volatile-lru', 'volatile-ttl']) {
      await admin.config('SET', 'maxmemory-policy', policy)
      const { codes, events } = await adviceOf()
      expect(codes).toEqual(['redis-volatile-eviction'])
      expect(events[0]!.message).toContain(policy)
    }
  })

  it('redis-no-maxmemory when maxmemory is 0', async () => {
    await admin.config('SET', 'maxmemory', '0')
    expect((await adviceOf()).codes).toEqual(['redis-no-maxmemory'])
  })

  it('redis-persistence for RDB snapshots and for AOF', async () => {
    await admin.config('SET', 'save', '3600 1')
    const rdb = await adviceOf()
    expect(rdb.codes).toEqual(['redis-persistence'])
    expect(rdb.events[0]!.message).toMatch(/RDB snapshots \(save 3600 1\)/)
    await admin.config('SET', 'save', '')
    await admin.config('SET', 'appendonly', 'yes')
    const aof = await adviceOf()
    expect(aof.codes).toEqual(['redis-persistence'])
    expect(aof.events[0]!.message).toMatch(/AOF/)
  })

  it('soft-timeout-without-grace when grace is off and a soft timeout is set', async () => {
    expect((await adviceOf({ grace: false })).codes).toEqual(['soft-timeout-without-grace'])
    expect((await adviceOf({ grace: false, timeouts: { soft: false } })).codes).toEqual([])
  })

  it('l1-without-invalidation when L1 is on with Redis and no bus', async () => {
    expect((await adviceOf({ bus: false })).codes).toEqual(['l1-without-invalidation'])
    expect((await adviceOf({ bus: false, l1: false })).codes).toEqual([])
  })

  it('lock-wait-beyond-hard-timeout', async () => {
    const { codes, events } = await adviceOf({ lock: { wait: '20s' }, timeouts: { hard: '10s' } })
    expect(codes).toEqual(['lock-wait-beyond-hard-timeout'])
    expect(events[0]!.message).toContain('20000 ms')
  })

  it('lock-off-with-redis and no-expiry-spread', async () => {
    expect((await adviceOf({ lock: false })).codes).toEqual(['lock-off-with-redis'])
    expect((await adviceOf({ jitter: 0, earlyRefresh: false })).codes).toEqual(['no-expiry-spread'])
    expect((await adviceOf({ jitter: 0 })).codes).toEqual([])
  })

  it('ignore silences chosen codes, advisor: false silences all; an unknown code is refused', async () => {
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.config('SET', 'maxmemory', '0')
    expect((await adviceOf({ advisor: { ignore: ['redis-no-maxmemory'] } })).codes).toEqual([
      'redis-noeviction',
    ])
    const off = await adviceOf({ advisor: false, grace: false })
    expect(off.codes).toEqual([])
    expect(off.health.advice).toEqual([])
    expect(() => createCache({ advisor: { ignore: ['nope' as 'redis-noeviction'] } })).toThrow(
      InvalidOptionError,
    )
  })

  it('a Redis that refuses INFO and CONFIG (ACL) gives only the advice on the options', async () => {
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.acl('SETUSER', 'app', 'on', '>secret', '~*', '&*', '+@all', '-info', '-config')
    const { codes } = await adviceOf({
      redis: `redis://app:secret@127.0.0.1:${redis.port}`,
      grace: false,
    })
    expect(codes).toEqual(['soft-timeout-without-grace'])
    await admin.acl('DELUSER', 'app')
  })
})
