import { Redis } from 'ioredis'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  createEntityCache,
  createPrewarmer,
  type EntityCache,
  type PrewarmProgress,
  redisCursorStore,
} from '../../src/entities/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type User, user } from './fixtures.js'

let server: TestRedis
let redis: Redis
let cache: EntityCache<User>
const fetchMany = vi.fn(async (ids: string[]) =>
  ids.filter((id) => !id.startsWith('gone')).map((id) => user(id)),
)

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
  cache = createEntityCache<User>({ redis: server.url, timeout: '1s', fetchMany })
})

afterAll(async () => {
  await cache.close()
  redis.disconnect()
  await server.stop()
})

beforeEach(async () => {
  await redis.flushdb()
  // Back to the original implementation (vi.fn's own), with no recorded calls.
  fetchMany.mockReset()
})

const ids = (count: number) => Array.from({ length: count }, (_, i) => `u${i}`)

describe('prewarmer', () => {
  it('caches every id in batches of batchSize, one fetchMany per batch, reporting progress', async () => {
    const progress: PrewarmProgress[] = []
    const all = [...ids(1_200), 'gone-1', 'gone-2']
    const prewarmer = createPrewarmer({
      entityCache: cache,
      ids: async () => all,
      batchSize: 500,
      pauseMs: 0,
    })
    const result = await prewarmer.run({ onProgress: (p) => progress.push(p) })

    expect(result).toMatchObject({ cached: 1_200, errors: 2, completed: true, cursor: 0 })
    expect(fetchMany.mock.calls.map(([batch]) => batch.length)).toEqual([500, 500, 202])
    expect(progress.map((p) => p.batch)).toEqual([0, 1, 2])
    expect(progress.at(-1)).toMatchObject({ cursor: 3, cached: 1_200, errors: 2 })
    expect(await redis.exists(...ids(1_200).map(cache.keyOf))).toBe(1_200)
  })

  it('skips ids already cached (one EXISTS pipeline) and takes async iterables', async () => {
    await cache.warm(ids(300))
    fetchMany.mockClear()
    async function* source() {
      yield* ids(400)
    }
    const result = await createPrewarmer({
      entityCache: cache,
      ids: source,
      batchSize: 250,
      pauseMs: 0,
    }).run()
    expect(result.cached).toBe(400)
    expect(fetchMany.mock.calls.map(([batch]) => batch.length)).toEqual([100])
  })

  it('pauses between batches (never after the last), and a cancelled run resumes at its cursor', async () => {
    const pauseMs = 150
    const calledAt: number[] = []
    fetchMany.mockImplementation(async (batch: string[]) => {
      calledAt.push(performance.now())
      return batch.map((id) => user(id))
    })
    const prewarmer = createPrewarmer({ entityCache: cache, ids: () => ids(1_000), batchSize: 100, pauseMs })
    const controller = new AbortController()
    const first = await prewarmer.run({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.batch === 3) controller.abort()
      },
    })
    expect(first).toMatchObject({ completed: false, cursor: 4, cached: 400 })
    expect(prewarmer.cursor).toBe(4)
    expect(fetchMany).toHaveBeenCalledTimes(4)
    // Timers never fire early, so every gap is at least the pause (only a lower bound is checked).
    for (let i = 1; i < calledAt.length; i++)
      expect(calledAt[i]! - calledAt[i - 1]!).toBeGreaterThanOrEqual(pauseMs - 2)

    const second = await prewarmer.run()
    expect(second).toMatchObject({ completed: true, cached: 600, cursor: 0 })
    const batches = fetchMany.mock.calls.map(([batch]) => batch[0])
    expect(batches).toEqual(['u0', 'u100', 'u200', 'u300', 'u400', 'u500', 'u600', 'u700', 'u800', 'u900'])
    expect(await redis.exists(...ids(1_000).map(cache.keyOf))).toBe(1_000)
  })

  it('cancelling during a pause returns at once instead of waiting it out', async () => {
    const controller = new AbortController()
    const prewarmer = createPrewarmer({
      entityCache: cache,
      ids: () => ids(200),
      batchSize: 100,
      pauseMs: 60_000,
    })
    const running = prewarmer.run({ signal: controller.signal, onProgress: () => controller.abort() })
    const result = await running
    expect(result).toMatchObject({ completed: false, cursor: 1, cached: 100 })
    expect(result.durationMs).toBeLessThan(30_000)
  })

  it('a failing batch counts its ids as errors and the run goes on', async () => {
    fetchMany.mockImplementationOnce(async () => {
      throw new Error('auth-user-service: 503')
    })
    const result = await createPrewarmer({
      entityCache: cache,
      ids: () => ids(300),
      batchSize: 100,
      pauseMs: 0,
    }).run()
    expect(result).toMatchObject({ cached: 200, errors: 100, completed: true })
  })

  it('with a Redis cursor store, a new process resumes an interrupted run at the saved cursor', async () => {
    const CURSOR_KEY = 'prewarm:user-profiles:cursor'
    // Seed 002 scenario 4: batches of 500 (here 100, over 1,000 ids).
    const processA = createPrewarmer({
      entityCache: cache,
      ids: () => ids(1_000),
      batchSize: 100,
      pauseMs: 0,
      cursorStore: redisCursorStore(redis, CURSOR_KEY),
    })
    const controller = new AbortController()
    const interrupted = await processA.run({
      signal: controller.signal,
      onProgress: (p) => {
        if (p.batch === 2) controller.abort()
      },
    })
    expect(interrupted).toMatchObject({ completed: false, cursor: 3, resumedAt: 0 })
    expect(await redis.get(CURSOR_KEY)).toBe('3/100')
    const ttl = await redis.pttl(CURSOR_KEY)
    expect(ttl).toBeGreaterThan(3_500_000)
    expect(ttl).toBeLessThanOrEqual(3_600_000)

    // "Restart": a new prewarmer with no memory of the first; the cache is flushed, so a batch that
    // was not skipped would be fetched again.
    await redis.del(...ids(1_000).map(cache.keyOf))
    fetchMany.mockClear()
    const processB = createPrewarmer({
      entityCache: cache,
      ids: () => ids(1_000),
      batchSize: 100,
      pauseMs: 0,
      cursorStore: redisCursorStore(redis, CURSOR_KEY),
    })
    const resumed = await processB.run()
    expect(resumed).toMatchObject({ completed: true, resumedAt: 3, cached: 700, cursor: 0 })
    expect(fetchMany.mock.calls.map(([batch]) => batch[0])).toEqual([
      'u300',
      'u400',
      'u500',
      'u600',
      'u700',
      'u800',
      'u900',
    ])
    // Completed: the cursor is gone, and the next run starts from the first batch.
    expect(await redis.exists(CURSOR_KEY)).toBe(0)

    // A cursor saved with another batch size is ignored (its index would name other ids).
    await redis.set(CURSOR_KEY, '3/500')
    const otherSize = await createPrewarmer({
      entityCache: cache,
      ids: () => ids(300),
      batchSize: 100,
      pauseMs: 0,
      cursorStore: redisCursorStore(redis, CURSOR_KEY),
    }).run()
    expect(otherSize).toMatchObject({ resumedAt: 0, completed: true })
  })
})
