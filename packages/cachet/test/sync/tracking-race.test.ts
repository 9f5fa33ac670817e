import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache } from '../../src/index.js'
import { cacheEverywhere, msUntilDropped, trackingFleet } from '../helpers/l1-fleet.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

const ROUNDS = 200
/**
 * Values this large arrive over several socket reads, so the reader often handles the small
 * invalidation message (on its other connection) before it has the whole reply: the trap.
 */
const PAD = randomBytes(150_000).toString('base64')
const OPTIONS = { compression: false } as const

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

/** What cachet stores for each value 0..count-1 under the key, so a raw client can write entries. */
async function encodedValues(prefix: string, key: string, count: number): Promise<Buffer[]> {
  const encoder = createCache({
    redis: redis.url,
    prefix,
    logger: false,
    l1: false,
    bus: false,
    l2: RELAXED_L2,
    ...OPTIONS,
  })
  const values: Buffer[] = []
  for (let i = 0; i < count; i++) {
    await encoder.set(key, { i, pad: PAD }, { ttl: '1h' })
    values.push((await raw.getBuffer(`${prefix}:${key}`))!)
  }
  await encoder.close()
  return values
}

const paths: Array<[string, (cache: CacheApi, key: string) => Promise<unknown>]> = [
  ['getOrSet', (cache, key) => cache.getOrSet(key, async () => 'loader ran')],
  ['get', (cache, key) => cache.get(key)],
  ['getMany', async (cache, key) => (await cache.getMany([key]))[0]],
  ['getOrSetMany', async (cache, key) => (await cache.getOrSetMany([key], async () => ['loader ran']))[0]],
]

describe('a reply invalidated while in flight is never kept in L1', () => {
  for (const [name, read] of paths) {
    it(`${name}: ${ROUNDS} reads racing a raw SET of the key`, async () => {
      const prefix = `race-${name}`
      const values = await encodedValues(prefix, 'k', ROUNDS + 1)
      const [reader] = await trackingFleet(redis.url, prefix, 1, OPTIONS)
      await raw.set(`${prefix}:k`, values[0]!)
      await cacheEverywhere([reader!], 'barrier')
      for (let i = 1; i <= ROUNDS; i++) {
        // The read and the write leave in the same turn (or the write a little later): Redis serves
        // either first, and the invalidation may reach the reader before or after its reply.
        const reading = read(reader!, 'k')
        for (let turns = i % 4; turns > 0; turns--) await new Promise((resolve) => setImmediate(resolve))
        await Promise.all([reading, raw.set(`${prefix}:k`, values[i]!)])
        // Invalidations arrive in order: once the barrier's is in, the write's has been applied.
        await raw.set(`${prefix}:barrier`, 'x')
        expect(await msUntilDropped([reader!], 'barrier')).toBeLessThan(1_000)
        expect(((await read(reader!, 'k')) as { i: number }).i).toBe(i)
        await reader!.getOrSet('barrier', async () => 'b')
      }
      await reader!.close()
      // 1–3 s on a quiet machine; each round waits on Redis several times, so a starved one takes 10×.
    }, 90_000)
  }
})
