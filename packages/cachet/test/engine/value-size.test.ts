import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

// Before the size check, encoding these values stalled the event loop 2.5–5 s on a quiet 2-vCPU
// machine. The bound is 400 ms plus four times the longest pause the loop takes with nothing to do
// in the same run (a starved machine's own pauses), capped at 2 s so the old stall always fails it.
const MAX_STALL_MS = 400
const STALL_CAP_MS = 2_000

/** The stall bound for this run: see MAX_STALL_MS. */
async function stallBound(): Promise<number> {
  const idle = await longestStall(() => new Promise((resolve) => setTimeout(resolve, 300)))
  return Math.min(STALL_CAP_MS, MAX_STALL_MS + 4 * idle)
}

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

const MB = 1024 * 1024
let n = 0
const newCache = () => createCache({ redis: redis.url, prefix: `size${n++}`, logger: false, l2: RELAXED_L2 })

/** The longest event-loop stall (ms) while `work` runs: the largest gap between ticks of a 5 ms timer. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now()
  let longest = 0
  const timer = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
  }, 5)
  try {
    await work()
    // Background writes run inside the measured window too.
    await new Promise((resolve) => setTimeout(resolve, 50))
  } finally {
    clearInterval(timer)
  }
  return longest
}

/** 40 MB values that compress poorly, as an attacker would pick them: a string and an array of rows. */
const values = {
  string: () => randomBytes(30 * MB).toString('base64'),
  rows: () => {
    // One random buffer sliced per row: 400,000 calls to randomBytes took a minute on a starved machine.
    const random = randomBytes(400_000 * 36)
    return Array.from({ length: 400_000 }, (_, i) => ({
      id: i,
      name: random.toString('base64', i * 36, i * 36 + 36),
      n: i * 7,
    }))
  },
}

describe('a value over l2.maxValueBytes is refused before it is serialised and compressed', () => {
  for (const [kind, make] of Object.entries(values)) {
    it(`getOrSet of a 40 MB ${kind}: no long event-loop stall, returned to the caller, stored nowhere`, async () => {
      const cache = newCache()
      const value = make()
      let loads = 0
      const loader = async () => {
        loads++
        return value
      }
      let result: unknown
      const stall = await longestStall(async () => {
        result = await cache.getOrSet('big', loader)
      })
      // Serialising and gzipping 40 MB stalled the loop for about 0.5–2 s; the size check costs a few ms.
      expect(stall).toBeLessThan(await stallBound())
      expect(result).toBe(value)
      expect(await raw.exists(`size${n - 1}:big`)).toBe(0)
      await cache.getOrSet('big', loader)
      expect(loads).toBe(2) // not in L1 either
      expect(cache.stats().sets).toBe(2)
      await cache.close()
      // The rows case took 6 s with the machine's load average at 9.
    }, 120_000)
  }

  it('set() of a 40 MB value resolves false quickly; a value just under the limit is still stored', async () => {
    const cache = newCache()
    const big = values.string()
    let written: boolean | undefined
    const stall = await longestStall(async () => {
      written = await cache.set('big', big)
    })
    expect(stall).toBeLessThan(await stallBound())
    expect(written).toBe(false)
    expect(await cache.get('big')).toBeUndefined()

    // 900 KB that compresses poorly: under 1 MiB after serialising, so both tiers take it.
    const fits = randomBytes(675_000).toString('base64')
    expect(await cache.set('fits', fits)).toBe(true)
    expect(await cache.get('fits')).toBe(fits)
    expect(await raw.exists(`size${n - 1}:fits`)).toBe(1)
    await cache.close()
  })

  it('getOrSetMany: the 40 MB value is returned and stored nowhere, its small neighbour is stored', async () => {
    const cache = newCache()
    const big = values.string()
    let result: unknown[] = []
    const stall = await longestStall(async () => {
      result = await cache.getOrSetMany(['big', 'small'], async () => ({ big, small: 'ok' }))
    })
    expect(stall).toBeLessThan(await stallBound())
    expect(result).toEqual([big, 'ok'])
    // The writes run behind the call: wait until the small one has landed.
    await expect.poll(() => raw.exists(`size${n - 1}:small`), { timeout: 10_000 }).toBe(1)
    expect(await raw.exists(`size${n - 1}:big`)).toBe(0)
    await cache.close()
  })

  it('a large value that compresses below the limit is still stored in Redis', async () => {
    const cache = newCache()
    const repetitive = 'cachet '.repeat(400_000) // 2.8 MB, about 10 KB gzipped
    expect(await cache.set('repetitive', repetitive)).toBe(true)
    expect(await raw.exists(`size${n - 1}:repetitive`)).toBe(1)
    expect(await cache.get('repetitive')).toBe(repetitive)
    await cache.close()
  })
})
