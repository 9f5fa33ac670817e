import { describe, expect, it } from 'vitest'
import { createCache, type Duration } from '../../src/index.js'
import { redisSuite } from '../helpers/redis-suite.js'

const suite = redisSuite()
const newCache = suite.cache

describe('getOrSet', () => {
  it('calls the loader on a miss, then answers from L1, and another instance from L2', async () => {
    const prefix = 'shared1'
    const a = newCache({ prefix })
    const b = newCache({ prefix })
    let calls = 0
    const loader = async () => {
      calls++
      return { total: 42, at: new Date('2026-01-01T00:00:00Z') }
    }
    const first = await a.getOrSet('dashboard:kpi', loader)
    const second = await a.getOrSet('dashboard:kpi', loader)
    await new Promise((r) => setTimeout(r, 50)) // the L2 write runs in the background
    const third = await b.getOrSet('dashboard:kpi', loader)
    expect(calls).toBe(1)
    expect(first).toEqual({ total: 42, at: new Date('2026-01-01T00:00:00Z') })
    expect(second).toEqual(first)
    expect(third).toEqual(first)
    expect(third.at).toBeInstanceOf(Date)
    expect(a.stats().l1?.hits).toBe(1)
    expect(b.stats().l2?.hits).toBe(1)
    await Promise.all([a.close(), b.close()])
  })

  it('caches falsy values as themselves and does not call the loader again (seed defect L8)', async () => {
    const cache = newCache()
    for (const [i, value] of [0, '', false, null, []].entries()) {
      let calls = 0
      const loader = async () => {
        calls++
        return value
      }
      expect(await cache.getOrSet(`falsy:${i}`, loader)).toEqual(value)
      expect(await cache.getOrSet(`falsy:${i}`, loader)).toEqual(value)
      expect(calls).toBe(1)
    }
    await cache.close()
  })

  it('keeps types across tiers: Date, BigInt, Map, Set', async () => {
    const prefix = 'types1'
    const a = newCache({ prefix })
    const b = newCache({ prefix, l1: false })
    const value = { d: new Date(5), n: 12345678901234567890n, m: new Map([['k', 1]]), s: new Set(['x']) }
    await a.set('typed', value)
    expect(await a.get('typed')).toEqual(value)
    expect(await b.get('typed')).toEqual(value)
    await Promise.all([a.close(), b.close()])
  })

  it('never hands out an object a caller can corrupt for the next caller', async () => {
    const cache = newCache()
    const value = await cache.getOrSet('obj', async () => ({ list: [1, 2, 3] }))
    expect(() => {
      ;(value.list as number[]).push(4)
    }).toThrow(TypeError)
    expect(await cache.get('obj')).toEqual({ list: [1, 2, 3] })
    await cache.close()
  })

  it('rejects a loader that returns undefined with a typed error, and caches nothing', async () => {
    const cache = newCache()
    await expect(cache.getOrSet('undef', async () => undefined)).rejects.toMatchObject({
      code: 'E_UNDEFINED_VALUE',
    })
    expect(await cache.has('undef')).toBe(false)
    await cache.close()
  })

  it('rejects bad keys and durations with typed errors naming the problem', async () => {
    const cache = newCache()
    await expect(cache.getOrSet('', async () => 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    await expect(cache.getOrSet('x'.repeat(2000), async () => 1)).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    })
    await expect(cache.getOrSet(42 as unknown as string, async () => 1)).rejects.toMatchObject({
      code: 'E_INVALID_KEY',
    })
    await expect(cache.getOrSet('k', async () => 1, { ttl: 'soon' as Duration })).rejects.toThrow(/ttl/)
    await expect(cache.set('fn', { f: () => 1 })).rejects.toMatchObject({ code: 'E_SERIALIZATION' })
    expect(() => createCache({ ttl: -5 })).toThrow(/ttl/)
    expect(() => createCache({ prefix: '' })).toThrow(/prefix/)
    await cache.close()
  })

  it('propagates a loader error when there is no stale value, and the next call retries', async () => {
    const cache = newCache()
    await expect(
      cache.getOrSet('boom', async () => {
        throw new Error('db down')
      }),
    ).rejects.toThrow('db down')
    expect(await cache.getOrSet('boom', async () => 'ok')).toBe('ok')
    await cache.close()
  })
})
