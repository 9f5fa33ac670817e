import { describe, expect, it } from 'vitest'
import { createCache, type Loader } from '../../src/index.js'
import { RELAXED_L2 } from '../helpers/redis-server.js'
import { redisSuite } from '../helpers/redis-suite.js'

/*
 * Every way a load can fail gives back what it took: its load slot (else the cache wedges after
 * maxConcurrentLoads failures) and its stampede lock (else every other caller of the key waits
 * lock.wait for it). One slot and a short hard timeout: a slot kept would fail the next load.
 */

const suite = redisSuite()

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let n = 0

async function noLockLeft(prefix: string): Promise<void> {
  const deadline = Date.now() + 3000
  while ((await suite.raw.keys(`${prefix}:__lock:*`)).length > 0) {
    if (Date.now() > deadline) throw new Error(`a lock under ${prefix} was never released`)
    await sleep(10)
  }
}

/** A value JSON cannot serialise: storing it fails after the loader succeeded. */
function circular(): unknown {
  const value: { self?: unknown } = {}
  value.self = value
  return value
}

const failing: Array<[string, Loader<unknown>]> = [
  [
    'throws synchronously',
    () => {
      throw new Error('sync boom')
    },
  ],
  ['returns a rejected promise', () => Promise.reject(new Error('async boom'))],
  ['returns undefined synchronously', () => undefined],
  ['resolves undefined', async () => undefined],
  [
    'calls fail() and catches it (synchronously)',
    (ctx) => {
      try {
        ctx.fail()
      } catch {}
      return 'caught'
    },
  ],
  [
    'calls fail() and catches it (asynchronously)',
    async (ctx) => {
      try {
        ctx.fail(new Error('failed on purpose'))
      } catch {}
      return 'caught'
    },
  ],
  ['answers a value that cannot be serialised (synchronously)', () => circular()],
  ['resolves a value that cannot be serialised', async () => circular()],
]

describe('a failed load gives back its slot and its lock', () => {
  for (const stale of [false, true]) {
    for (const [how, loader] of failing) {
      it(`a loader that ${how}${stale ? ', with a stale value' : ''}`, async () => {
        const cache = createCache({
          redis: suite.redis.url,
          prefix: `fail${n++}`,
          logger: false,
          l2: RELAXED_L2,
          jitter: 0,
          maxConcurrentLoads: 1,
          timeouts: { soft: '5s', hard: '2s' },
          graceBackoff: 1,
        })
        cache.on('error', () => {})
        if (stale) {
          await cache.set('k', 'old', { ttl: 1, grace: '1h' })
          await sleep(20)
        }
        for (let round = 0; round < 3; round++) {
          const result = cache.getOrSet('k', loader)
          if (stale) expect(await result).toBe('old')
          else await expect(result).rejects.toThrow()
          await noLockLeft(cache.prefix)
          await sleep(5)
        }
        // The one slot is free: a new load runs at once (a leaked slot would time out after 2 s).
        const started = Date.now()
        expect(await cache.getOrSet('other', async () => 'fine')).toBe('fine')
        expect(Date.now() - started).toBeLessThan(1500)
        await cache.close()
      })
    }
  }
})
