import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/index.js'
import { redisSuite } from '../helpers/redis-suite.js'

const suite = redisSuite({ earlyRefresh: false })
const newCache = suite.cache

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * With Redis tracking on, the write-back of a load drops this instance's own fresh L1 copy once (its
 * next read goes to Redis): waits for that and reads the key again, so that L1 holds the copy read
 * from Redis when a test starts measuring.
 */
async function settle(read: () => Promise<unknown>) {
  await sleep(250)
  await read()
}

/** The l1Ttl of these tests, and a wait well past it (a loaded machine still separates the two). */
const L1_TTL = 1000
const PAST_L1_TTL = 1600

describe('l1Ttl: a shorter life in L1 than in Redis', () => {
  it('a per-call l1Ttl drops the L1 copy after it, and the next call reads Redis, not the loader', async () => {
    const cache = newCache()
    let calls = 0
    const loader = async () => ++calls
    const options = { ttl: '1h', l1Ttl: L1_TTL } as const
    expect((await cache.getOrSetResult('report', loader, options)).source).toBe('loader')
    await settle(() => cache.getOrSet('report', loader, options))
    expect((await cache.getOrSetResult('report', loader, options)).source).toBe('l1')
    await sleep(PAST_L1_TTL)
    const again = await cache.getOrSetResult('report', loader, options)
    expect(again).toMatchObject({ value: 1, outcome: 'hit', source: 'l2' })
    expect(calls).toBe(1)
    // Read from Redis, it is kept in L1 again (for l1Ttl).
    expect((await cache.getOrSetResult('report', loader, options)).source).toBe('l1')
    await cache.close()
  })

  it('without l1Ttl the same wait is still answered from L1 (l1.maxTtl, 60 s)', async () => {
    const cache = newCache()
    const loader = async () => 1
    await cache.getOrSet('report', loader, { ttl: '1h' })
    await settle(() => cache.getOrSet('report', loader, { ttl: '1h' }))
    await sleep(PAST_L1_TTL)
    expect((await cache.getOrSetResult('report', loader, { ttl: '1h' })).source).toBe('l1')
    await cache.close()
  })

  it('a ttlRules entry { ttl, l1Ttl } applies to every read of its keys, get() included', async () => {
    const cache = newCache({ ttlRules: { 'stock:': { ttl: '1h', l1Ttl: L1_TTL }, 'other:': '1h' } })
    let calls = 0
    const loader = async () => ++calls
    await cache.getOrSet('stock:42', loader)
    await cache.getOrSet('other:42', loader)
    await settle(() => Promise.all([cache.getOrSet('stock:42', loader), cache.getOrSet('other:42', loader)]))
    await sleep(PAST_L1_TTL)
    expect((await cache.getOrSetResult('stock:42', loader)).source).toBe('l2')
    expect((await cache.getOrSetResult('other:42', loader)).source).toBe('l1')
    expect(await cache.ttl('stock:42')).toBeGreaterThan(3_000_000) // Redis holds it for the hour (±10 % jitter)
    await sleep(PAST_L1_TTL)
    const before = cache.stats().l2!.hits
    expect(await cache.get('stock:42')).toBe(1)
    expect(cache.stats().l2!.hits).toBe(before + 1)
    expect(calls).toBe(2)
    await cache.close()
  })

  it('set() and getOrSetMany() take l1Ttl too', async () => {
    const cache = newCache()
    await cache.set('a', 'A', { ttl: '1h', l1Ttl: L1_TTL })
    await cache.getOrSetMany(['b'], async () => ({ b: 'B' }), { ttl: '1h', l1Ttl: L1_TTL })
    await sleep(PAST_L1_TTL)
    const before = cache.stats().l2!.hits
    expect(await cache.getMany(['a', 'b'])).toEqual(['A', 'B'])
    expect(cache.stats().l2!.hits).toBe(before + 2)
    await cache.close()
  })

  it('refuses an l1Ttl that is not a positive duration or exceeds l1.maxTtl, before the loader runs', async () => {
    const cache = newCache({ l1: { maxTtl: '10s' } })
    let calls = 0
    const loader = async () => ++calls
    await expect(cache.getOrSet('k', loader, { l1Ttl: '20s' })).rejects.toThrow(
      /l1Ttl must be at most l1.maxTtl \(10000 ms\)/,
    )
    await expect(cache.getOrSet('k', loader, { l1Ttl: 0 })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(cache.set('k', 1, { l1Ttl: '20s' })).rejects.toBeInstanceOf(InvalidOptionError)
    expect(calls).toBe(0)
    await cache.close()
    expect(() => newCache({ l1: { maxTtl: '10s' }, ttlRules: { 'a:': { ttl: '1h', l1Ttl: '1m' } } })).toThrow(
      /ttlRules\['a:'\]\.l1Ttl must be at most l1.maxTtl/,
    )
  })
})
