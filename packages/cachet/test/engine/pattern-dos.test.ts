import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Cache } from '../../src/core/cache.js'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

/**
 * A pattern within the limits (8 wildcards) that takes a backtracking matcher exponential time on
 * every key it does not match; it matches only the marker key.
 */
const HOSTILE = '********!'
const MARKER = 'marker!'
/** The longest pause allowed between two answers of a loop of L1 reads: far above a normal one. */
const PROMPT_MS = 500

let redis: TestRedis
let raw: Redis
beforeAll(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
})
afterAll(async () => {
  raw.disconnect()
  await redis.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function newCache(prefix: string, overrides: Parameters<typeof createCache>[0] = {}) {
  return createCache({ redis: redis.url, prefix, logger: false, l2: RELAXED_L2, ...overrides })
}

/** Writes `count` keys and the marker once the bus is up (its start drops what L1 held before). */
async function fill(cache: Cache, prefix: string, subscribers: number, count: number): Promise<string[]> {
  const keys = Array.from({ length: count }, (_, i) => `user:${String(i).padStart(5, '0')}:ab`)
  const subscribed = async () => {
    const [, n] = (await raw.pubsub('NUMSUB', `${prefix}:__bus`)) as [string, number]
    return n >= subscribers
  }
  while (!(await subscribed())) await sleep(10)
  await sleep(50)
  await cache.setMany([...keys, MARKER].map((key) => ({ key, value: key })))
  expect(cache.stats().l1?.size).toBe(count + 1)
  return keys
}

/**
 * Reads `key` in a loop until `done()` resolves, and returns the longest time between two answers:
 * an event loop blocked by matching shows up here, wherever in the loop it happens.
 */
async function longestPause(cache: Cache, key: string, done: Promise<unknown>): Promise<number> {
  let finished = false
  void done.finally(() => {
    finished = true
  })
  let longest = 0
  let last = performance.now()
  while (!finished) {
    expect(await cache.get(key)).toBe(key)
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
    await sleep(2)
  }
  await done
  return longest
}

describe('hostile patterns do not freeze the engine', () => {
  it('deleteByPattern over 2,000 L1 keys keeps concurrent gets answered promptly', async () => {
    const cache = newCache('dos1')
    const keys = await fill(cache, 'dos1', 1, 2_000)
    const deleting = sleep(20).then(() => cache.deleteByPattern(HOSTILE))
    expect(await longestPause(cache, keys[0]!, deleting)).toBeLessThan(PROMPT_MS)
    expect(await deleting).toBe(1)
    expect(await cache.get(MARKER)).toBeUndefined()
    await cache.close()
  })

  it('a peer receiving the pattern on the bus keeps answering its gets', async () => {
    const sender = newCache('dos2', { l1: false })
    const peer = newCache('dos2')
    const keys = await fill(peer, 'dos2', 2, 600)
    expect(await peer.get(MARKER)).toBe(MARKER)
    // The peer has applied the pattern once the marker has left its L1 (Redis lost it already).
    const applied = (async () => {
      await sender.deleteByPattern(HOSTILE)
      while ((await peer.get(MARKER)) !== undefined) await sleep(10)
    })()
    expect(await longestPause(peer, keys[0]!, applied)).toBeLessThan(PROMPT_MS)
    expect(await peer.get(keys[1]!)).toBe(keys[1])
    await Promise.all([sender.close(), peer.close()])
  })
})
