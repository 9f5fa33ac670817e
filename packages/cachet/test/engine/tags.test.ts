import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache, InvalidOptionError } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

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
let n = 0
function newCache(overrides: Parameters<typeof createCache>[0] = {}) {
  return createCache({ redis: redis.url, prefix: `tags${n++}`, logger: false, l2: RELAXED_L2, ...overrides })
}

/** Every key of a tag, walking the pages. */
async function allTagKeys(cache: ReturnType<typeof newCache>, tag: string, limit: number) {
  const keys: string[] = []
  let cursor = '0'
  let pages = 0
  do {
    const page = await cache.tagKeys(tag, { cursor, limit })
    keys.push(...page.keys)
    cursor = page.cursor
    pages++
  } while (cursor !== '0')
  return { keys: [...new Set(keys)].sort(), pages }
}

describe('tags you can see', () => {
  it('tagKeys pages through every live key of a tag; tagCount counts them; deleted keys drop out', async () => {
    const cache = newCache()
    const tagged = Array.from({ length: 250 }, (_, i) => `order:${String(i).padStart(3, '0')}`)
    await cache.setMany(tagged.map((key) => ({ key, value: key, tags: ['orders'] })))
    await cache.set('user:1', 'u', { tags: ['users'] })
    const { keys, pages } = await allTagKeys(cache, 'orders', 50)
    expect(keys).toEqual(tagged)
    expect(pages).toBeGreaterThan(1)
    expect(await cache.tagCount('orders')).toBe(250)
    await cache.deleteMany(['order:000', 'order:001'])
    expect(await cache.tagCount('orders')).toBe(248)
    expect((await allTagKeys(cache, 'orders', 1000)).keys).not.toContain('order:000')
    expect(await cache.tagCount('never')).toBe(0)
    expect(await cache.invalidateTags(['orders'])).toBe(248)
    expect(await cache.tagCount('orders')).toBe(0)
    await cache.close()
  })

  it('a namespace sees only its own keys, relative to it', async () => {
    const cache = newCache()
    const users = cache.namespace('users')
    await users.set('1', 'a', { tags: ['vip'] })
    await cache.set('teams:1', 'b', { tags: ['vip'] })
    expect((await users.tagKeys('vip')).keys).toEqual(['1'])
    expect(await users.tagCount('vip')).toBe(1)
    expect(await cache.tagCount('vip')).toBe(2)
    await cache.close()
  })

  it('refuses a bad limit, a bad cursor and a bad tag with a clear error', async () => {
    const cache = newCache()
    await expect(cache.tagKeys('t', { limit: 0 })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(cache.tagKeys('t', { limit: 5000 })).rejects.toBeInstanceOf(InvalidOptionError)
    await expect(cache.tagKeys('t', { cursor: 'abc' })).rejects.toThrow(/cursor/)
    await expect(cache.tagCount('')).rejects.toThrow(/tag/)
    await expect(cache.addTags('k', [''])).rejects.toThrow(/tag/)
    await expect(cache.invalidateTags(['t'], { mode: 'soft' as 'expire' })).rejects.toBeInstanceOf(
      InvalidOptionError,
    )
    await cache.close()
  })

  it('addTags tags a stored entry: value and lifetime kept, the new tag reaches it', async () => {
    const cache = newCache()
    await cache.set('report:1', { total: 1 }, { ttl: '10m', tags: ['reports'] })
    const ttlBefore = await cache.ttl('report:1')
    expect(await cache.addTags('report:1', ['finance', 'reports'])).toBe(true)
    expect((await cache.inspect('report:1'))?.tags).toEqual(['reports', 'finance'])
    expect(await cache.get('report:1')).toEqual({ total: 1 })
    const ttlAfter = await cache.ttl('report:1')
    expect(ttlAfter).toBeLessThanOrEqual(ttlBefore!)
    expect(ttlAfter).toBeGreaterThan(ttlBefore! - 5_000)
    expect((await cache.tagKeys('finance')).keys).toEqual(['report:1'])
    // Another instance's L1 copy carries the old tags: addTags told it to drop that copy.
    expect(await cache.invalidateTags(['finance'])).toBe(1)
    expect(await cache.get('report:1')).toBeUndefined()
    expect(await cache.addTags('absent', ['x'])).toBe(false)
    await cache.close()
  })

  it('addTags reaches the L1 copies of other instances', async () => {
    const prefix = `tags${n++}`
    const a = newCache({ prefix })
    const b = newCache({ prefix })
    await a.set('k', 'v')
    expect(await b.get('k')).toBe('v') // now in b's L1, untagged
    expect(await a.addTags('k', ['late'])).toBe(true)
    // The bus brings the tag to b's copy; nothing shows it from outside, so a wait with room for a
    // starved machine (a copy left untagged would keep answering 'v' below until l1.maxTtl, 60 s).
    await sleep(1_000)
    expect(await b.invalidateTags(['late'])).toBe(1)
    await expect.poll(() => a.get('k'), { timeout: 5_000 }).toBeUndefined() // the bus
    expect(await b.get('k')).toBeUndefined()
    await Promise.all([a.close(), b.close()])
  })
})

describe("invalidateTags mode 'expire' (soft purge)", () => {
  it('keeps entries as stale copies: get misses, allowStale answers, Redis keeps the key and its TTL', async () => {
    const cache = newCache()
    await cache.set('price:1', 10, { ttl: '10m', grace: '1h', tags: ['prices'] })
    await cache.set('price:2', 20, { ttl: '10m', grace: '1h', tags: ['prices'] })
    await cache.set('other', 0, { tags: ['misc'] })
    const pttlBefore = await raw.pttl(`${cache.prefix}:price:1`)
    expect(await cache.invalidateTags(['prices'], { mode: 'expire' })).toBe(2)
    expect(await cache.get('price:1')).toBeUndefined()
    expect(await cache.get('price:1', { allowStale: true })).toBe(10)
    expect(await cache.get('other')).toBe(0)
    const details = await cache.inspect('price:1')
    expect(details?.state).toBe('stale')
    expect(details!.staleUntil! - Date.now()).toBeGreaterThan(60 * 60_000 - 60_000)
    expect(await raw.pttl(`${cache.prefix}:price:1`)).toBeGreaterThan(pttlBefore - 5_000)
    // The index is kept: a delete afterwards still reaches them.
    expect(await cache.tagCount('prices')).toBe(2)
    expect(await cache.invalidateTags(['prices'])).toBe(2)
    expect(await cache.get('price:1', { allowStale: true })).toBeUndefined()
    await cache.close()
  })

  it('works on compressed and msgpack entries (only the envelope head is touched)', async () => {
    const cache = newCache({ compression: { threshold: 0 }, serializer: 'msgpack', l1: false })
    const big = { rows: Array.from({ length: 500 }, (_, i) => ({ i, label: `row ${i}` })) }
    await cache.set('big', big, { tags: ['bulk'], grace: '1h' })
    expect((await cache.inspect('big'))?.compressed).toBe(true)
    expect(await cache.invalidateTags(['bulk'], { mode: 'expire' })).toBe(1)
    expect(await cache.get('big')).toBeUndefined()
    expect(await cache.get('big', { allowStale: true })).toEqual(big)
    await cache.close()
  })

  it('the default delete removes entries: no stale copy is left', async () => {
    const cache = newCache()
    await cache.set('a', 1, { grace: '1h', tags: ['t'] })
    expect(await cache.invalidateTags(['t'])).toBe(1)
    expect(await cache.get('a', { allowStale: true })).toBeUndefined()
    await cache.close()
  })

  it('getOrSet serves the stale copy when the loader fails, and refreshes when it works', async () => {
    const cache = newCache()
    await cache.set('menu', 'v1', { tags: ['menus'], grace: '1h' })
    expect(await cache.invalidateTags(['menus'], { mode: 'expire' })).toBe(1)
    const failing = async (): Promise<string> => {
      throw new Error('database down')
    }
    expect(await cache.getOrSet('menu', failing, { tags: ['menus'] })).toBe('v1')
    // After the grace backoff, a working loader refreshes it.
    const fresh = newCache({ prefix: cache.prefix, graceBackoff: 0 })
    let loads = 0
    const value = await fresh.getOrSet(
      'menu',
      async () => {
        loads++
        return 'v2'
      },
      { tags: ['menus'], timeouts: { soft: false } },
    )
    expect(value).toBe('v2')
    expect(loads).toBe(1)
    expect(await fresh.get('menu')).toBe('v2')
    await Promise.all([cache.close(), fresh.close()])
  })

  it("other instances drop their fresh L1 copy and read Redis's stale one", async () => {
    const prefix = `tags${n++}`
    const a = newCache({ prefix })
    const b = newCache({ prefix })
    await a.set('k', 'v', { tags: ['shared'], grace: '1h' })
    expect(await b.get('k')).toBe('v')
    expect(await a.invalidateTags(['shared'], { mode: 'expire' })).toBe(1)
    await expect.poll(() => b.get('k'), { timeout: 5_000 }).toBeUndefined() // the bus
    expect(await b.get('k', { allowStale: true })).toBe('v')
    await Promise.all([a.close(), b.close()])
  })

  it('an L1-only cache lists, counts and soft-purges from L1', async () => {
    const cache = createCache({ logger: false })
    await cache.set('x:1', 1, { tags: ['local'], grace: '1h' })
    await cache.set('x:2', 2, { tags: ['local'], grace: '1h' })
    expect((await cache.tagKeys('local', { limit: 1 })).keys).toEqual(['x:1'])
    expect(await allTagKeys(cache as ReturnType<typeof newCache>, 'local', 1)).toEqual({
      keys: ['x:1', 'x:2'],
      pages: 2,
    })
    expect(await cache.tagCount('local')).toBe(2)
    expect(await cache.invalidateTags(['local'], { mode: 'expire' })).toBe(2)
    expect(await cache.get('x:1')).toBeUndefined()
    expect(await cache.get('x:1', { allowStale: true })).toBe(1)
    expect(await cache.addTags('x:1', ['more'])).toBe(true)
    expect((await cache.tagKeys('more')).keys).toEqual(['x:1'])
    await cache.close()
  })
})
