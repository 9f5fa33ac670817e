import { afterAll, describe, expect, it } from 'vitest'
import { EntryCounts } from '../../src/http/entry-counts.js'
import { invalidateType } from '../../src/http/invalidate.js'
import { createCache } from '../../src/index.js'
import { delay } from './harness.js'

const cache = createCache({ l1: { maxBytes: 1024 * 1024 }, logger: false })
afterAll(() => cache.close())

const cap = (perType: number, owner?: string, perOwner = perType) => ({ perType, owner, perOwner })

describe('EntryCounts', () => {
  it('admits new keys up to the cap, then only the keys it counts already', () => {
    const counts = new EntryCounts(cache)
    expect(counts.claim('search', 'search:a', 60_000, cap(2))).toBe('new')
    expect(counts.claim('search', 'search:b', 60_000, cap(2))).toBe('new')
    expect(counts.admits('search', 'search:c', cap(2))).toBe(false)
    expect(counts.claim('search', 'search:c', 60_000, cap(2))).toBe('full')
    expect(counts.admits('search', 'search:a', cap(2))).toBe(true)
    expect(counts.claim('search', 'search:a', 60_000, cap(2))).toBe('known')
    // Types are counted apart.
    expect(counts.claim('product', 'product:a', 60_000, cap(2))).toBe('new')
  })

  it('stops counting an entry once its lifetime has passed, or when it is released', async () => {
    const counts = new EntryCounts(cache)
    counts.claim('search', 'search:a', 20, cap(1))
    expect(counts.admits('search', 'search:b', cap(1))).toBe(false)
    await delay(40)
    expect(counts.claim('search', 'search:b', 60_000, cap(1))).toBe('new')
    counts.release('search', 'search:b')
    expect(counts.claim('search', 'search:c', 60_000, cap(1))).toBe('new')
  })

  it('forgets a type invalidated as a whole, and every type on clear', async () => {
    const counts = new EntryCounts(cache)
    counts.claim('search', 'search:a', 60_000, cap(1))
    counts.claim('product', 'product:a', 60_000, cap(1))
    await invalidateType(cache, 'search')
    expect(counts.admits('search', 'search:b', cap(1))).toBe(true)
    expect(counts.admits('product', 'product:b', cap(1))).toBe(false)
    await cache.clear()
    expect(counts.admits('product', 'product:b', cap(1))).toBe(true)
  })

  it('forgets invalidated keys, and keeps counting after an invalidation by another pattern', async () => {
    const counts = new EntryCounts(cache)
    counts.claim('search', 'search:a', 60_000, cap(1))
    await cache.deleteByPattern('search:?')
    expect(counts.admits('search', 'search:b', cap(1))).toBe(false)
    await cache.delete('search:a')
    expect(counts.admits('search', 'search:b', cap(1))).toBe(true)
  })

  it("caps one user's entries within the type, and frees the user's place when an entry goes", () => {
    const counts = new EntryCounts(cache)
    expect(counts.claim('user', 'user:u:a:1', 60_000, cap(10, 'a', 2))).toBe('new')
    expect(counts.claim('user', 'user:u:a:2', 60_000, cap(10, 'a', 2))).toBe('new')
    expect(counts.claim('user', 'user:u:a:3', 60_000, cap(10, 'a', 2))).toBe('full')
    expect(counts.claim('user', 'user:u:b:1', 60_000, cap(10, 'b', 2))).toBe('new')
    expect(counts.admits('user', 'user:u:a:1', cap(10, 'a', 2))).toBe(true)
    counts.release('user', 'user:u:a:1')
    expect(counts.claim('user', 'user:u:a:3', 60_000, cap(10, 'a', 2))).toBe('new')
    // The type's cap still holds for users under theirs.
    expect(counts.claim('user', 'user:u:c:1', 60_000, cap(3, 'c', 2))).toBe('full')
  })
})
