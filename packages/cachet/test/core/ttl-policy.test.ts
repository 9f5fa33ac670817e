import { describe, expect, it } from 'vitest'
import type { Duration } from '../../src/core/duration.js'
import { type CacheOptions, resolveOptions } from '../../src/core/options.js'
import { TtlPolicy } from '../../src/core/ttl-policy.js'

const SECOND = 1_000
const MINUTE = 60 * SECOND

/** Seed 004 §4.3's TTL table (seconds), as cachet ttlRules. */
const SEED_004_RULES: Record<string, Duration> = {
  'stock:available': '60s',
  'dashboard:realtime': '120s',
  'orders:recent': '180s',
  'dashboard:stats': '300s',
  'users:count': '600s',
  'products:popular': '900s',
  'blog:articles': '1800s',
  'suppliers:list': '1800s',
  'seo:stats': '3600s',
  'manufacturers:list': '3600s',
  'vehicles:brands': '3600s',
  'config:main': '3600s',
  'static:content': '7200s',
}

function policy(options: CacheOptions = {}, random?: () => number): TtlPolicy {
  return new TtlPolicy(resolveOptions({ jitter: 0, ...options }), random)
}

describe('TtlPolicy: smart TTL by key prefix (seed 004)', () => {
  const seed = policy({ ttl: '5m', ttlRules: SEED_004_RULES })

  it.each([
    ['stock:available', 60],
    ['stock:available:warehouse-3', 60],
    ['dashboard:realtime', 120],
    ['dashboard:stats', 300],
    ['suppliers:list', 1800],
    ['seo:stats', 3600],
    ['static:content:home', 7200],
    ['unknown:key', 300],
    ['stock:reserved', 300],
  ])('%s → %i s', (key, seconds) => {
    expect(seed.freshMs(key)).toBe(seconds * SECOND)
  })

  it('picks the longest matching prefix, whatever the rule order', () => {
    const rules = policy({
      ttl: '5m',
      ttlRules: { 'dashboard:': '5m', 'dashboard:realtime': '10s', d: '1h' },
    })
    expect(rules.ruleFor('dashboard:realtime:x')).toBe(10 * SECOND)
    expect(rules.ruleFor('dashboard:stats')).toBe(5 * MINUTE)
    expect(rules.ruleFor('dx')).toBe(60 * MINUTE)
    expect(rules.ruleFor('search:q')).toBeUndefined()
  })
})

describe('TtlPolicy: adaptive TTL by loader cost (seed 003 §5.3)', () => {
  const adaptive = policy({ ttl: '5m', adaptiveTtl: true, ttlRules: { 'report:': '2h' } })

  it.each([
    [15_000, 30],
    [10_001, 30],
    [10_000, 10],
    [5_001, 10],
    [5_000, 5],
    [1_001, 5],
    [1_000, 1],
    [20, 1],
    [0, 1],
  ])('a %i ms loader → %i min', (loadMs, minutes) => {
    expect(adaptive.adaptiveMs(loadMs)).toBe(minutes * MINUTE)
    expect(adaptive.freshMs('report:revenue', { loadMs })).toBe(minutes * MINUTE)
  })

  it('uses custom thresholds, and falls through when none applies', () => {
    const custom = policy({ ttl: '5m', adaptiveTtl: [{ slowerThan: '2s', ttl: '1h' }] })
    expect(custom.freshMs('k', { loadMs: 3_000 })).toBe(60 * MINUTE)
    expect(custom.adaptiveMs(500)).toBeUndefined()
    expect(custom.freshMs('k', { loadMs: 500 })).toBe(5 * MINUTE)
  })

  it('is off by default, and can be turned on or off per call', () => {
    const off = policy({ ttl: '5m' })
    expect(off.freshMs('k', { loadMs: 12_000 })).toBe(5 * MINUTE)
    expect(off.freshMs('k', { loadMs: 12_000, adaptive: true })).toBe(30 * MINUTE)
    expect(adaptive.freshMs('report:x', { loadMs: 12_000, adaptive: false })).toBe(2 * 60 * MINUTE)
  })

  it('needs a load time: without one the prefix rule applies', () => {
    expect(adaptive.freshMs('report:x')).toBe(2 * 60 * MINUTE)
  })
})

describe('TtlPolicy: precedence', () => {
  const all = policy({ ttl: '5m', adaptiveTtl: true, ttlRules: { 'stock:': '1m' } })

  it('explicit call ttl > adaptive > prefix rule > default', () => {
    expect(all.freshMs('stock:1', { ttlMs: 7 * SECOND, loadMs: 20_000 })).toBe(7 * SECOND)
    expect(all.freshMs('stock:1', { loadMs: 20_000 })).toBe(30 * MINUTE)
    expect(all.freshMs('stock:1')).toBe(1 * MINUTE)
    expect(all.freshMs('other')).toBe(5 * MINUTE)
  })

  it('never returns less than 1 ms', () => {
    expect(all.freshMs('k', { ttlMs: 0 })).toBe(1)
  })
})

describe('TtlPolicy: jitter', () => {
  it('spreads freshness within ±jitter, as whole milliseconds', () => {
    const jittered = new TtlPolicy(resolveOptions({ ttl: '100s', jitter: 0.1 }))
    const samples = Array.from({ length: 2_000 }, () => jittered.freshMs('k'))
    for (const ms of samples) {
      expect(Number.isInteger(ms)).toBe(true)
      expect(ms).toBeGreaterThanOrEqual(90_000)
      expect(ms).toBeLessThanOrEqual(110_000)
    }
    // Spread over the range, not stuck at one value.
    expect(Math.min(...samples)).toBeLessThan(92_000)
    expect(Math.max(...samples)).toBeGreaterThan(108_000)
  })

  it('hits exactly the bounds at the extremes of the random source', () => {
    const options: CacheOptions = { ttl: '100s', jitter: 0.1, ttlRules: { 'a:': '10s' } }
    expect(new TtlPolicy(resolveOptions(options), () => 0).freshMs('k')).toBe(90_000)
    expect(new TtlPolicy(resolveOptions(options), () => 0.5).freshMs('k')).toBe(100_000)
    expect(new TtlPolicy(resolveOptions(options), () => 0.999_999).freshMs('a:1')).toBe(11_000)
    expect(new TtlPolicy(resolveOptions(options), () => 0).freshMs('k', { ttlMs: 1 })).toBe(1)
  })

  it('never touches grace', () => {
    const jittered = new TtlPolicy(resolveOptions({ grace: '1h', jitter: 0.5 }), () => 0)
    expect(jittered.graceMs()).toBe(60 * MINUTE)
    expect(jittered.graceMs({ graceMs: 5 * SECOND })).toBe(5 * SECOND)
    expect(new TtlPolicy(resolveOptions({ grace: false })).graceMs()).toBe(0)
  })
})
