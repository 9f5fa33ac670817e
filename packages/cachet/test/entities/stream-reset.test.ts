import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  createEntityCache,
  createStreamConsumer,
  type EntityCache,
  publishEntityEvent,
  type ResetReason,
  type StreamConsumer,
} from '../../src/entities/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type User, UserSchema, user, waitFor } from './fixtures.js'

const STREAM = 'events:users'
let server: TestRedis
let redis: Redis
let cache: EntityCache<User>
let sync: StreamConsumer | undefined

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
  redis.on('error', () => {})
  cache = createEntityCache<User>({ redis: server.url, schema: UserSchema, timeout: '1s' })
})

afterAll(async () => {
  await cache.close()
  redis.disconnect()
  await server.stop()
})

afterEach(async () => {
  await sync?.stop()
  sync = undefined
  await redis.flushdb()
})

function start(resets: ResetReason[]): Promise<void> {
  sync = createStreamConsumer<User>({
    redis: server.url,
    group: 'g',
    consumer: 'c1',
    entityCache: cache,
    block: '200ms',
    checkInterval: '200ms',
    minIdle: '1s',
    startId: '0',
  })
  sync.on('reset', ({ reason }) => resets.push(reason))
  return sync.start()
}

const publish = (entity: User, maxLen?: number) =>
  publishEntityEvent(
    redis,
    STREAM,
    { type: 'user.profile.updated', id: entity.id, payload: entity, version: entity.updatedAt },
    maxLen === undefined ? {} : { maxLen },
  )

describe('stream consumer: Redis reset and trim loss', () => {
  it('the stream vanishing is detected: namespace flushed (nothing else), group re-created, new events applied', async () => {
    const resets: ResetReason[] = []
    await start(resets)
    await publish(user('1', 1))
    await waitFor(() => sync!.stats().acked === 1, 10_000)
    for (let i = 0; i < 20; i++) await cache.set(user(`stale-${i}`, 1))
    await redis.set('cache:other', 'kept')

    await redis.del(STREAM)
    await waitFor(() => resets.length === 1, 5_000)
    expect(['stream-missing', 'group-missing']).toContain(resets[0])
    expect(await redis.exists(cache.keyOf('stale-3'))).toBe(0)
    expect(await redis.get('cache:other')).toBe('kept')

    await publish(user('2', 5))
    await waitFor(async () => (await cache.get('2')) !== null, 10_000)
    const groups = (await redis.xinfo('GROUPS', STREAM)) as unknown[]
    expect(groups).toHaveLength(1)
  })

  it('Redis killed and restarted empty: reset detected within 5 s, group re-created, new events applied', async () => {
    const resets: ResetReason[] = []
    await start(resets)
    await publish(user('1', 1))
    await waitFor(() => sync!.stats().acked === 1, 10_000)

    await server.kill()
    await server.restart()
    const detectedMs = await waitFor(() => resets.length >= 1, 10_000)
    console.log(`reset detected ${detectedMs} ms after the restart (${resets[0]})`)
    expect(detectedMs).toBeLessThan(5_000)
    expect(sync!.stats().resets).toBeGreaterThanOrEqual(1)

    await waitFor(async () => {
      try {
        await publish(user('9', 9))
        return true
      } catch {
        return false
      }
    }, 10_000)
    await waitFor(async () => (await cache.get('9').catch(() => null)) !== null, 15_000)
    expect(sync!.stats().running).toBe(true)
  }, 40_000)

  it('entries trimmed before the group read them are detected (not silent) and trigger a resync', async () => {
    const resets: ResetReason[] = []
    await start(resets)
    await publish(user('1', 1))
    await waitFor(() => sync!.stats().acked === 1, 10_000)
    await sync!.stop()
    sync = undefined

    // The consumer is down while the producer trims the stream (RELIABILITY X3).
    for (let i = 0; i < 1_000; i++) await publish(user(String(i % 50), 10 + i), 100)
    await cache.set(user('stale', 1))
    await start(resets)
    await waitFor(() => resets.includes('entries-trimmed'), 5_000)
    expect(await redis.exists(cache.keyOf('stale'))).toBe(0)
    // The entries that survived the trim are still applied afterwards. (Redis keeps counting the
    // trimmed ones in `lag`, so completion is judged by the last delivered id.)
    const [[lastId]] = (await redis.xrevrange(STREAM, '+', '-', 'COUNT', 1)) as [[string, string[]]]
    await waitFor(() => sync!.stats().lastDeliveredId === lastId && sync!.stats().pending === 0, 10_000)
    expect(sync!.stats().applied).toBe(await redis.xlen(STREAM))
    expect(resets.filter((reason) => reason === 'entries-trimmed')).toHaveLength(1)
    // 1,000 publishes one after another and waits of up to 25 s: past 30 s on a starved machine.
  }, 90_000)
})
