import { describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'

// Seed 000, "Hierarchical Cache": "Level 1: Memory (ultra-fast, small) — LRU Cache (100 items)".
describe('L1 bounded by item count as well as bytes', () => {
  it("holds the seed's 100 items at most, evicting the least recently used", async () => {
    const cache = createCache({ redis: false, l1: { maxItems: 100 } })
    for (let i = 0; i < 100; i++) await cache.set(`item:${i}`, { i })
    // Reading item:0 makes it the most recently used: the next writes evict item:1… first.
    expect(await cache.get('item:0')).toEqual({ i: 0 })
    for (let i = 100; i < 150; i++) await cache.set(`item:${i}`, { i })
    expect(cache.stats().l1?.size).toBe(100)
    expect(await cache.get('item:0')).toEqual({ i: 0 })
    expect(await cache.get('item:1')).toBeUndefined()
    expect(await cache.get('item:50')).toBeUndefined()
    expect(await cache.get('item:51')).toEqual({ i: 51 })
    expect(await cache.get('item:149')).toEqual({ i: 149 })
    await cache.close()
  })

  it('the byte bound still evicts first when it is reached before the count', async () => {
    // ~2 KB values in a 64 KB L1: about 25 fit, far below the 100-item bound.
    const cache = createCache({ redis: false, l1: { maxItems: 100, maxBytes: 64 * 1024 } })
    for (let i = 0; i < 100; i++) await cache.set(`big:${i}`, 'x'.repeat(2_000))
    const { size, bytes, maxBytes } = cache.stats().l1!
    expect(size).toBeGreaterThan(10)
    expect(size).toBeLessThan(40)
    expect(bytes).toBeLessThanOrEqual(maxBytes)
    await cache.close()
  })

  it('without maxItems only bytes bound it; a bad maxItems is refused at creation', async () => {
    const cache = createCache({ redis: false })
    for (let i = 0; i < 1_000; i++) await cache.set(`n:${i}`, i)
    expect(cache.stats().l1?.size).toBe(1_000)
    await cache.close()
    for (const maxItems of [0, -1, 1.5, Number.NaN]) {
      expect(() => createCache({ redis: false, l1: { maxItems } }), String(maxItems)).toThrow(/l1.maxItems/)
    }
  })
})
