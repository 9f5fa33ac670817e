import { describe, expect, it } from 'vitest'
import type { Entry } from '../../src/core/types.js'
import { MemoryTier } from '../../src/tiers/memory-tier.js'

const HOUR = 3_600_000

/** A settable clock, so expiry is tested without waiting. */
function fakeClock(start = 1_700_000_000_000) {
  let time = start
  return {
    now: () => time,
    advance: (ms: number) => {
      time += ms
    },
  }
}

function entry<T>(value: T, overrides: Partial<Entry<T>> = {}, now = Date.now()): Entry<T> {
  return {
    value,
    createdAt: now,
    freshUntil: now + HOUR,
    staleUntil: now + 2 * HOUR,
    tags: [],
    version: '0123456789abcdef',
    loadMs: 0,
    ...overrides,
  }
}

function tier(options: Partial<ConstructorParameters<typeof MemoryTier>[0]> = {}): MemoryTier {
  return new MemoryTier({ maxBytes: 1024 * 1024, maxEntryBytes: 64 * 1024, maxTtlMs: HOUR, ...options })
}

describe('MemoryTier basics', () => {
  it('returns the very entry it stored, and undefined on a miss', () => {
    const l1 = tier()
    const stored = entry({ a: 1 })
    l1.set('k', stored, 100)
    expect(l1.get('k')).toBe(stored)
    expect(l1.get('other')).toBeUndefined()
    expect(l1.size).toBe(1)
  })

  it('stores falsy values', () => {
    const l1 = tier()
    for (const [key, value] of [
      ['zero', 0],
      ['empty', ''],
      ['no', false],
      ['nil', null],
    ] as const) {
      l1.set(key, entry(value), 10)
      expect(l1.get(key)?.value).toBe(value)
    }
  })

  it('deletes, reporting whether a live entry was there', () => {
    const l1 = tier()
    l1.set('k', entry(1), 10)
    expect(l1.delete('k')).toBe(true)
    expect(l1.delete('k')).toBe(false)
    expect(l1.get('k')).toBeUndefined()
  })

  it('clears everything, tag index included', () => {
    const l1 = tier()
    l1.set('a', entry(1, { tags: ['t'] }), 10)
    l1.set('b', entry(2), 10)
    l1.clear()
    expect(l1.size).toBe(0)
    expect(l1.bytes).toBe(0)
    expect(l1.tagCount).toBe(0)
    expect(l1.deleteByTags(['t'])).toBe(0)
  })

  it('deletes by key predicate', () => {
    const l1 = tier()
    for (const key of ['cache:users:1', 'cache:users:2', 'cache:orders:1']) l1.set(key, entry(key), 10)
    expect(l1.deleteWhere((key) => key.startsWith('cache:users:'))).toBe(2)
    expect(l1.get('cache:users:1')).toBeUndefined()
    expect(l1.get('cache:orders:1')).toBeDefined()
  })
})

describe('MemoryTier byte bound', () => {
  it('keeps the accounted bytes within maxBytes while filling far past it, evicting the least recently used', () => {
    const maxBytes = 100_000
    const l1 = tier({ maxBytes, maxEntryBytes: 10_000 })
    l1.set('hot', entry('hot'), 1_000)
    for (let i = 0; i < 1_000; i++) {
      l1.set(`key:${i}`, entry(i), 1_000 + (i % 7) * 100)
      l1.get('hot') // keeps 'hot' recently used
      expect(l1.bytes).toBeLessThanOrEqual(maxBytes)
    }
    expect(l1.bytes).toBeGreaterThan(maxBytes * 0.8)
    expect(l1.get('hot')?.value).toBe('hot')
    expect(l1.get('key:0')).toBeUndefined()
    expect(l1.get('key:999')?.value).toBe(999)
    expect(l1.size).toBeLessThan(100)
  })

  it('accounts the given bytes plus the key and a fixed overhead', () => {
    const l1 = tier()
    l1.set('abc', entry(1), 1_000)
    const one = l1.bytes
    expect(one).toBeGreaterThan(1_000 + 3)
    l1.set('abcdef', entry(1), 1_000)
    expect(l1.bytes - one).toBe(one + 3)
  })

  it('does not store entries larger than maxEntryBytes, and drops an older copy of that key', () => {
    const l1 = tier({ maxEntryBytes: 5_000 })
    l1.set('k', entry('small'), 100)
    l1.set('k', entry('huge'), 10_000)
    expect(l1.get('k')).toBeUndefined()
    expect(l1.size).toBe(0)
    expect(l1.bytes).toBe(0)
  })

  it('updates the accounting when a key is overwritten', () => {
    const l1 = tier()
    l1.set('k', entry(1), 5_000)
    const before = l1.bytes
    l1.set('k', entry(2), 1_000)
    expect(l1.bytes).toBe(before - 4_000)
    expect(l1.size).toBe(1)
  })
})

describe('MemoryTier expiry', () => {
  it('drops an entry at its staleUntil', () => {
    const clock = fakeClock()
    const l1 = tier({ now: clock.now, maxTtlMs: 10 * HOUR })
    l1.set('k', entry(1, { staleUntil: clock.now() + 5_000 }, clock.now()), 10)
    clock.advance(4_999)
    expect(l1.get('k')).toBeDefined()
    clock.advance(2)
    expect(l1.get('k')).toBeUndefined()
  })

  it('never keeps an entry longer than maxTtl, whatever its staleUntil', () => {
    const clock = fakeClock()
    const l1 = tier({ now: clock.now, maxTtlMs: 60_000 })
    l1.set('k', entry(1, { staleUntil: clock.now() + 7 * 24 * HOUR }, clock.now()), 10)
    clock.advance(59_999)
    expect(l1.get('k')).toBeDefined()
    clock.advance(2)
    expect(l1.get('k')).toBeUndefined()
  })

  it('does not store an entry already past staleUntil, and drops the older copy', () => {
    const clock = fakeClock()
    const l1 = tier({ now: clock.now })
    l1.set('k', entry(1, {}, clock.now()), 10)
    l1.set('k', entry(2, { freshUntil: clock.now() - 10, staleUntil: clock.now() - 1 }, clock.now()), 10)
    expect(l1.get('k')).toBeUndefined()
  })

  it('removes an expired entry from the tag index', () => {
    const clock = fakeClock()
    const l1 = tier({ now: clock.now })
    l1.set('k', entry(1, { tags: ['t'], staleUntil: clock.now() + 1_000 }, clock.now()), 10)
    clock.advance(1_001)
    expect(l1.get('k')).toBeUndefined()
    expect(l1.tagCount).toBe(0)
    expect(l1.deleteByTags(['t'])).toBe(0)
  })
})

describe('MemoryTier frozen values', () => {
  it('deep-freezes plain objects and arrays so callers cannot corrupt the shared copy', () => {
    const l1 = tier()
    l1.set('k', entry({ user: { name: 'Ada', roles: ['admin'] }, list: [{ n: 1 }] }), 100)
    const value = l1.get('k')!.value as {
      user: { name: string; roles: string[] }
      list: Array<{ n: number }>
    }
    expect(() => {
      value.user.name = 'Eve'
    }).toThrow(TypeError)
    expect(() => value.user.roles.push('root')).toThrow(TypeError)
    expect(() => {
      value.list[0]!.n = 2
    }).toThrow(TypeError)
    expect(l1.get('k')!.value).toEqual({ user: { name: 'Ada', roles: ['admin'] }, list: [{ n: 1 }] })
  })

  it('freezes plain objects inside Maps and Sets, leaves Map, Set, Date and typed arrays usable', () => {
    const l1 = tier()
    const inner = { n: 1 }
    const value = {
      map: new Map([['a', inner]]),
      set: new Set([{ m: 1 }]),
      at: new Date(0),
      bytes: new Uint8Array([1, 2]),
    }
    l1.set('k', entry(value), 100)
    expect(Object.isFrozen(inner)).toBe(true)
    expect(Object.isFrozen([...value.set][0])).toBe(true)
    // Object.freeze cannot stop these: documented, not hidden.
    value.map.set('b', { n: 2 })
    expect(value.map.size).toBe(2)
    expect(Object.isFrozen(value.bytes)).toBe(false)
  })

  it('freezes a deeply nested value without overflowing the stack, and a Map that holds itself', () => {
    const l1 = tier()
    let deep: unknown[] = []
    const root = deep
    for (let i = 0; i < 100_000; i++) {
      const next: unknown[] = []
      deep.push(next)
      deep = next
    }
    l1.set('deep', entry(root), 100)
    expect(Object.isFrozen(deep)).toBe(true)
    const selfish = new Map<string, unknown>()
    selfish.set('me', selfish)
    expect(() => l1.set('selfish', entry(selfish), 100)).not.toThrow()
  })
})

describe('MemoryTier tags', () => {
  it('deletes every entry carrying one of the tags, and only those', () => {
    const l1 = tier()
    l1.set('r1', entry(1, { tags: ['revenue', 'orders'] }), 10)
    l1.set('r2', entry(2, { tags: ['revenue'] }), 10)
    l1.set('o1', entry(3, { tags: ['orders'] }), 10)
    l1.set('u1', entry(4, { tags: ['users'] }), 10)
    expect(l1.deleteByTags(['revenue', 'orders'])).toBe(3)
    expect(l1.get('u1')).toBeDefined()
    expect(l1.size).toBe(1)
    expect(l1.tagCount).toBe(1)
  })

  it('forgets the old tags when a key is overwritten', () => {
    const l1 = tier()
    l1.set('k', entry(1, { tags: ['old'] }), 10)
    l1.set('k', entry(2, { tags: ['new'] }), 10)
    expect(l1.deleteByTags(['old'])).toBe(0)
    expect(l1.get('k')?.value).toBe(2)
    expect(l1.deleteByTags(['new'])).toBe(1)
  })

  it('keeps the tag index no larger than the live entries under eviction', () => {
    const l1 = tier({ maxBytes: 20_000, maxEntryBytes: 5_000 })
    for (let i = 0; i < 5_000; i++) l1.set(`k${i}`, entry(i, { tags: [`tag${i}`, 'all'] }), 500)
    const live = l1.size
    expect(live).toBeGreaterThan(0)
    expect(l1.tagCount).toBe(live + 1)
    expect(l1.deleteByTags(['all'])).toBe(live)
    expect(l1.size).toBe(0)
    expect(l1.tagCount).toBe(0)
  })
})

describe('MemoryTier: a copy suspected by key, then confirmed', () => {
  it('is stale while suspect, and fresh again with the freshness it had once its ticket confirms it', () => {
    const clock = fakeClock()
    const l1 = tier({ now: clock.now })
    const stored = entry('v', {}, clock.now())
    l1.set('k', stored, 10)
    const ticket = l1.markKeySuspect('k', clock.now())!
    expect(stored.suspect).toBe(true)
    expect(stored.freshUntil).toBe(clock.now())
    // Suspected twice (a second report): only the newest ticket confirms, with the original freshness.
    const second = l1.markKeySuspect('k', clock.now())!
    expect(l1.confirmKey('k', ticket)).toBe(false)
    expect(l1.confirmKey('k', second)).toBe(true)
    expect(stored.suspect).toBe(false)
    expect(stored.freshUntil).toBe(clock.now() + HOUR)
    expect(l1.confirmKey('k', second)).toBe(false)
  })

  it('lapses the ticket on a gap, a soft purge, a delete or an overwrite, and gives none for a copy a gap made suspect', () => {
    const clock = fakeClock()
    const l1 = tier({ now: clock.now })
    const lapses: Array<[string, (l1: MemoryTier) => void]> = [
      ['gap', (l1) => l1.markSuspect(clock.now())],
      ['soft purge', (l1) => l1.expireByTags(['t'], clock.now())],
      ['delete', (l1) => l1.delete('k')],
      ['overwrite', (l1) => l1.set('k', entry('new', { tags: ['t'] }, clock.now()), 10)],
    ]
    for (const [name, lapse] of lapses) {
      const stored = entry('v', { tags: ['t'] }, clock.now())
      l1.set('k', stored, 10)
      const ticket = l1.markKeySuspect('k', clock.now())!
      lapse(l1)
      expect(l1.confirmKey('k', ticket), name).toBe(false)
      expect(stored.freshUntil, name).toBeLessThanOrEqual(clock.now())
    }
    l1.set('k', entry('v', {}, clock.now()), 10)
    l1.markSuspect(clock.now())
    expect(l1.markKeySuspect('k', clock.now())).toBeUndefined()
    expect(l1.markKeySuspect('absent', clock.now())).toBeUndefined()
  })
})
