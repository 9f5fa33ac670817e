import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { engineOf } from '../../src/core/engine-of.js'
import { type CacheApi, createCache } from '../../src/index.js'
import { joinTracking, leaveTracking, type TrackingMember } from '../../src/sync/tracked-node.js'
import {
  cacheEverywhere,
  DROP_MS,
  dropBoundMs,
  inL1,
  msUntilDropped,
  trackingFleet,
  trackingOn,
} from '../helpers/l1-fleet.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let raw: Redis
let n = 0
const open: CacheApi[] = []

async function fleet(count = 3): Promise<{ caches: CacheApi[]; prefix: string }> {
  const prefix = `tr${n++}`
  const caches = await trackingFleet(redis.url, prefix, count)
  open.push(...caches)
  return { caches, prefix }
}

beforeAll(async () => {
  // hz 100: Redis' active expiry runs every 10 ms, so an expired key is removed (and notified) promptly.
  redis = await startRedis(['--hz', '100'])
  raw = new Redis(redis.url)
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((cache) => cache.close()))
})
afterAll(async () => {
  raw.disconnect()
  await redis.stop()
})

describe('L1 kept coherent by Redis tracking (bus off)', () => {
  it(`drops every instance's copy within ${DROP_MS} ms of a raw SET or DEL`, async () => {
    const { caches, prefix } = await fleet()
    await cacheEverywhere(caches, 'user:1')
    await raw.set(`${prefix}:user:1`, 'written by another client')
    expect(await msUntilDropped(caches, 'user:1')).toBeLessThan(await dropBoundMs())

    await cacheEverywhere(caches, 'user:2')
    await raw.del(`${prefix}:user:2`)
    expect(await msUntilDropped(caches, 'user:2')).toBeLessThan(await dropBoundMs())
  })

  it(`drops every instance's copy within ${DROP_MS} ms of the key's expiry in Redis`, async () => {
    const { caches, prefix } = await fleet()
    await caches[0]!.set('session:1', 'v')
    // PEXPIRE is a write: it drops the copies once; they are read again before the key expires.
    await raw.pexpire(`${prefix}:session:1`, 300)
    await msUntilDropped(caches, 'session:1')
    for (const cache of caches) await cache.getOrSet('session:1', async () => 'loaded')
    const expiresAt = performance.now() + (await raw.pttl(`${prefix}:session:1`))
    expect(caches.every((cache) => inL1(cache, 'session:1'))).toBe(true)
    await msUntilDropped(caches, 'session:1', 5_000)
    const lateMs = performance.now() - expiresAt
    expect(lateMs).toBeGreaterThan(-5)
    expect(lateMs).toBeLessThan(await dropBoundMs())
  })

  it('keeps the writer its own fresh copy (NOLOOP) and drops the others', async () => {
    const { caches } = await fleet()
    await cacheEverywhere(caches, 'item:1')
    await caches[0]!.set('item:1', 'new')
    expect(await msUntilDropped(caches.slice(1), 'item:1')).toBeLessThan(await dropBoundMs())
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(inL1(caches[0]!, 'item:1')).toBe(true)
    expect(await caches[1]!.get('item:1')).toBe('new')
  })

  it("a loaded value's write (a script): the writer's next read is an L1 hit, whether or not Redis reports the write to its writer", async () => {
    const { caches } = await fleet(1)
    const writer = caches[0]!
    let loads = 0
    const loader = async () => ++loads
    await writer.getOrSet('loaded:1', loader)
    // The write's own report, if Redis sends one (7.0), arrives within a few ms; the copy it made
    // suspect is confirmed by a read of the version Redis holds, in the background.
    await new Promise((resolve) => setTimeout(resolve, 100))
    await expect.poll(() => engineOf(writer).l1!.get('loaded:1')?.suspect, { timeout: 2_000 }).toBeFalsy()
    const again = await writer.getOrSetResult('loaded:1', loader)
    expect(loads).toBe(1)
    expect(again).toMatchObject({ outcome: 'hit', source: 'l1' })
  })

  it("an own write's report: the copy is confirmed by Redis' version, unless a gap comes before the answer", async () => {
    const { caches, prefix } = await fleet(1)
    const writer = caches[0]!
    const engine = engineOf(writer)
    await writer.set('own:1', 'v')
    await writer.set('own:2', 'v')
    await new Promise((resolve) => setTimeout(resolve, 100))
    // What the tracking does with a report of a registered own write.
    engine.onOwnWrites([`${prefix}:own:1`])
    expect(engine.l1!.get('own:1')!.suspect).toBe(true)
    engine.onOwnWrites([`${prefix}:own:2`])
    // A gap while the confirmation is on its way: reports may have been lost after Redis answered it.
    engine.onBusGap('test')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(engine.l1!.get('own:2')!.suspect).toBe(true)
    engine.onOwnWrites([`${prefix}:own:1`])
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect((await writer.getOrSetResult('own:1', async () => 'loaded')).source).toBe('l2')
    // Confirmed again without a gap: fresh in L1.
    engine.onOwnWrites([`${prefix}:own:1`])
    expect(engine.l1!.get('own:1')!.suspect).toBe(true)
    await expect.poll(() => engine.l1!.get('own:1')!.suspect, { timeout: 2_000 }).toBeFalsy()
    expect(await writer.getOrSetResult('own:1', async () => 'loaded')).toMatchObject({
      source: 'l1',
      value: 'v',
    })
  })

  it('getOrSetMany, expire and addTags keep the copy of what they wrote, whatever Redis reports to their writer', async () => {
    const { caches } = await fleet(1)
    const writer = caches[0]!
    await writer.getOrSetMany(['many:1', 'many:2'], async (missing) => missing.map((key) => `v:${key}`))
    await writer.getOrSet('expired:1', async () => 'e')
    await writer.getOrSet('tagged:1', async () => 't')
    expect(await writer.expire('expired:1', '1h')).toBe(true)
    expect(await writer.addTags('tagged:1', ['t1'])).toBe(true)
    // Their own reports, where Redis sends them (7.0), arrive within a few ms.
    await new Promise((resolve) => setTimeout(resolve, 100))
    for (const key of ['many:1', 'many:2', 'expired:1', 'tagged:1']) expect(inL1(writer, key)).toBe(true)
    expect(await writer.getMany(['many:1', 'many:2'])).toEqual(['v:many:1', 'v:many:2'])
  })

  it("an own write's report that also stood for another instance's soft purge (version kept) is not confirmed", async () => {
    const { caches, prefix } = await fleet(2)
    const [writer, other] = caches as [CacheApi, CacheApi]
    const engine = engineOf(writer)
    await writer.getOrSet('purged:1', async () => 'v', { tags: ['p'] })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const copy = engine.l1!.get('purged:1')!
    expect(copy.suspect).toBeFalsy()
    // The other instance soft-purges the tag: Redis keeps the entry and its version, stale from now.
    await other.invalidateTags(['p'], { mode: 'expire' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    // As when that report came in the Redis turn of the writer's own write and was taken for it: the
    // writer still holds its copy, and the report makes it suspect.
    engine.l1!.set('purged:1', copy, 100)
    engine.onOwnWrites([`${prefix}:purged:1`])
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(engine.l1!.get('purged:1')?.suspect).toBe(true)
    expect((await writer.getOrSetResult('purged:1', async () => 'reloaded', { tags: ['p'] })).value).toBe(
      'reloaded',
    )
  })

  it("an own write's report is taken once: another instance's write right behind it still reaches the writer", async () => {
    const { caches } = await fleet(2)
    const [writer, other] = caches as [CacheApi, CacheApi]
    // Redis sends one report for a key written twice in one of its turns: when the second write is
    // another instance's, that report is all the writer hears of it.
    const bound = await dropBoundMs()
    for (let round = 0; round < 20; round++) {
      const key = `raced:${round}`
      await writer.getOrSet(key, async () => 'loaded')
      await other.set(key, 'other')
      await new Promise((resolve) => setTimeout(resolve, bound))
      expect(await writer.get(key)).toBe('other')
    }
  })

  it('an own write whose report never came (a later write of the same connection took it) leaves no registration behind', async () => {
    const { caches, prefix } = await fleet(1)
    const writer = caches[0]!
    const tracking = engineOf(writer).tracking!
    await writer.set('lost:1', 'v')
    expect(inL1(writer, 'lost:1')).toBe(true)
    // What the write-back does around a script write whose report Redis then folded into a later
    // write by this same connection (one report per key and turn, for the last writer: none for us).
    const registered = tracking.expectOwnWrite(`${prefix}:lost:1`)
    if (registered) tracking.ownWriteLanded(registered)
    await new Promise((resolve) => setTimeout(resolve, 100))
    // Another client's delete: a registration left over would take its report for the write's own,
    // keeping the deleted value as a suspect copy; it must drop it.
    await raw.del(`${prefix}:lost:1`)
    expect(await msUntilDropped([writer], 'lost:1')).toBeLessThan(await dropBoundMs())
    console.info(`own script writes registered on this server: ${registered !== undefined}`)
  })

  it("a landed own write's leftover is its own: a later write of the same key keeps its registration", async () => {
    const { caches, prefix } = await fleet(1)
    const writer = caches[0]!
    const tracking = engineOf(writer).tracking!
    // The write-back of this load registers itself; a second write of the key (an expire, say)
    // registers before the first has landed and been settled.
    await writer.getOrSet('twice:1', async () => 'v')
    const second = tracking.expectOwnWrite(`${prefix}:twice:1`)
    await new Promise((resolve) => setTimeout(resolve, 100))
    if (second === undefined) {
      // A server that keeps NOLOOP for scripts (7.2+): nothing to register, nothing to settle.
      expect(tracking.expectOwnWrite(`${prefix}:twice:1`)).toBeUndefined()
      return
    }
    // The first write's report was taken by the first, and its settling left the second alone.
    expect(second.reported).toBe(false)
    expect(tracking.withdrawOwnWrite(second)).toBe(true)
  })

  it("reaches the others' L1 for tags, patterns and clear (their tombstones are writes)", async () => {
    const { caches } = await fleet()
    const [writer, ...readers] = caches as [CacheApi, ...CacheApi[]]
    await writer.set('tagged', 1, { tags: ['t'] })
    await cacheEverywhere(caches, 'p:1')
    await cacheEverywhere(caches, 'other')
    for (const cache of readers) await cache.getOrSet('tagged', async () => 0, { tags: ['t'] })
    await writer.invalidateTags(['t'])
    expect(await msUntilDropped(readers, 'tagged')).toBeLessThan(await dropBoundMs())
    await writer.deleteByPattern('p:*')
    expect(await msUntilDropped(readers, 'p:1')).toBeLessThan(await dropBoundMs())
    await writer.clear()
    expect(await msUntilDropped(readers, 'other')).toBeLessThan(await dropBoundMs())
  })

  it('clears every L1 on FLUSHALL', async () => {
    const { caches } = await fleet()
    await cacheEverywhere(caches, 'a')
    await cacheEverywhere(caches, 'b')
    await raw.flushall()
    expect(await msUntilDropped(caches, 'a')).toBeLessThan(await dropBoundMs())
    expect(caches.some((cache) => inL1(cache, 'b'))).toBe(false)
  })

  it('ignores writes outside its prefix', async () => {
    const { caches, prefix } = await fleet(1)
    await cacheEverywhere(caches, 'k')
    await raw.set(`${prefix}-other:k`, 'x')
    await raw.set('k', 'x')
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(inL1(caches[0]!, 'k')).toBe(true)
  })

  for (const [name, kill] of [
    ['tracking', ['CLIENT', 'KILL', 'TYPE', 'pubsub']],
    ['data', ['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']],
  ] as const) {
    it(`marks L1 suspect when the ${name} connection drops, and tracks again after the reconnect`, async () => {
      const { caches, prefix } = await fleet(1)
      const cache = caches[0]!
      const flushes: string[] = []
      cache.on('l1-flush', ({ reason }) => flushes.push(reason))
      await cacheEverywhere(caches, 'k')
      await raw.call(kill[0], ...kill.slice(1))
      const started = Date.now()
      while (flushes.length < 2 && Date.now() - started < 5_000) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      // One gap for the drop, one once tracking is on again (what L1 took in meanwhile is suspect).
      expect(flushes).toHaveLength(2)
      await trackingOn(cache)
      await cacheEverywhere(caches, 'k2')
      await raw.set(`${prefix}:k2`, 'x')
      expect(await msUntilDropped(caches, 'k2')).toBeLessThan(await dropBoundMs())
    })
  }
})

describe('a frozen Redis', () => {
  it('unanswered PINGs mark L1 suspect; once Redis answers, tracking is on again', async () => {
    const { caches, prefix } = await fleet(1)
    const cache = caches[0]!
    const flushes: string[] = []
    cache.on('l1-flush', ({ reason }) => flushes.push(reason))
    await cacheEverywhere(caches, 'k')
    redis.pause()
    try {
      const started = Date.now()
      while (
        !flushes.some((reason) => /PINGs (unanswered|failed)/.test(reason)) &&
        Date.now() - started < 10_000
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    } finally {
      redis.resume()
    }
    expect(flushes.some((reason) => /PINGs (unanswered|failed)/.test(reason))).toBe(true)
    await trackingOn(cache)
    expect(flushes).toContain('tracking switched on again after a reconnect')
    await cacheEverywhere(caches, 'k2')
    await raw.set(`${prefix}:k2`, 'x')
    expect(await msUntilDropped(caches, 'k2')).toBeLessThan(await dropBoundMs())
  }, 30_000)
})

describe('a frozen Redis behind a client whose commands time out before the next PING', () => {
  it('PINGs that time out count as missed: the gap is reported, not lost in silence', async () => {
    // A user's client: a short command timeout and no socket timeout, so no 'close' ever comes.
    const data = new Redis(redis.url, { commandTimeout: 300 })
    const gaps: string[] = []
    const member: TrackingMember = {
      keyPrefix: `frozen${n++}:`,
      onKeys: () => {},
      onFlush: () => {},
      onGap: (reason) => gaps.push(reason),
      onRefused: () => {},
    }
    expect(await joinTracking(data, member)).toEqual({ kind: 'on' })
    redis.pause()
    const started = Date.now()
    try {
      while (!gaps.some((reason) => reason.includes('PINGs')) && Date.now() - started < 8_000) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    } finally {
      redis.resume()
    }
    // Two PING intervals (2 s) at most on a quiet machine; never, before a failed PING counted.
    expect(gaps).toContain('tracking connection: 2 PINGs failed')
    expect(Date.now() - started).toBeLessThan(8_000)
    await leaveTracking(data, member)
    data.disconnect()
  }, 20_000)
})

describe('eviction', () => {
  let small: TestRedis
  beforeAll(async () => {
    // Only keys with a TTL (cachet's entries) are evicted; the filler below has none.
    small = await startRedis(['--maxmemory', '4mb', '--maxmemory-policy', 'volatile-lru'])
  })
  afterAll(async () => {
    await small.stop()
  })

  it(`drops every instance's copy within ${DROP_MS} ms of the key's eviction under maxmemory`, async () => {
    const caches = await trackingFleet(small.url, 'ev')
    open.push(...caches)
    await cacheEverywhere(caches, 'big', 'x'.repeat(10_000))
    const filler = new Redis(small.url)
    let evictedAt: number | undefined
    for (let i = 0; evictedAt === undefined && i < 1_000; i++) {
      const [, [, exists]] = (await filler
        .pipeline()
        .set(`filler:${i}`, 'f'.repeat(64 * 1024))
        .exists('ev:big')
        .exec()) as [unknown, [unknown, number]]
      if (exists === 0) evictedAt = performance.now()
    }
    expect(evictedAt).toBeDefined()
    await msUntilDropped(caches, 'big')
    expect(performance.now() - evictedAt!).toBeLessThan(await dropBoundMs())
    expect(Number((await filler.info('stats')).match(/evicted_keys:(\d+)/)?.[1])).toBeGreaterThan(0)
    filler.disconnect()
  })
})

describe('where Redis refuses tracking', () => {
  it('falls back to the bus and says so in health()', async () => {
    await raw.acl('SETUSER', 'noclient', 'on', '>pw', '~*', '&*', '+@all', '-client')
    const url = `redis://noclient:pw@127.0.0.1:${redis.port}`
    const make = () => createCache({ redis: url, prefix: 'acl', logger: false, l2: RELAXED_L2 })
    const [a, b] = [make(), make()]
    open.push(a, b)
    const started = Date.now()
    while ((await a.health()).invalidation?.tracking !== 'refused' && Date.now() - started < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const health = await a.health()
    expect(health.invalidation).toMatchObject({ sources: ['bus'], tracking: 'refused' })
    expect(health.invalidation?.refusal).toMatch(/NOPERM/)
    // The bus still keeps the two coherent.
    await cacheEverywhere([a, b], 'k')
    await a.delete('k')
    expect(await msUntilDropped([b], 'k')).toBeLessThan(500)
  })

  it("with l1.invalidation 'tracking', the bus takes over only where tracking is refused", async () => {
    await raw.acl('SETUSER', 'nochannel', 'on', '>pw', '~*', '&cache:*', '+@all')
    const refused = createCache({
      redis: `redis://nochannel:pw@127.0.0.1:${redis.port}`,
      logger: false,
      l2: RELAXED_L2,
      l1: { invalidation: 'tracking' },
    })
    const tracked = createCache({
      redis: redis.url,
      logger: false,
      l2: RELAXED_L2,
      l1: { invalidation: 'tracking' },
    })
    open.push(refused, tracked)
    await trackingOn(tracked)
    expect((await tracked.health()).invalidation).toEqual({ sources: ['tracking'], tracking: 'on' })
    const started = Date.now()
    while (!(await refused.health()).invalidation?.sources.includes('bus') && Date.now() - started < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect((await refused.health()).invalidation).toMatchObject({ sources: ['bus'], tracking: 'refused' })
  })

  it('hands over to the bus when Redis refuses tracking after a reconnect (an ACL changed)', async () => {
    await raw.acl('SETUSER', 'flip', 'on', '>pw', '~*', '&*', '+@all')
    const cache = createCache({
      redis: `redis://flip:pw@127.0.0.1:${redis.port}`,
      prefix: 'flip',
      logger: false,
      l2: RELAXED_L2,
      l1: { invalidation: 'tracking' },
    })
    open.push(cache)
    const flushes: string[] = []
    cache.on('l1-flush', ({ reason }) => flushes.push(reason))
    await trackingOn(cache)
    expect((await cache.health()).invalidation?.sources).toEqual(['tracking'])
    await raw.acl('SETUSER', 'flip', '-client|tracking')
    await raw.call('CLIENT', 'KILL', 'USER', 'flip')
    const started = Date.now()
    while ((await cache.health()).invalidation?.tracking !== 'refused' && Date.now() - started < 5_000) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect((await cache.health()).invalidation).toMatchObject({ sources: ['bus'], tracking: 'refused' })
    expect(flushes).toContain('Redis refused CLIENT TRACKING after a reconnect')
  })

  it("l1.invalidation 'bus' never switches tracking on", async () => {
    const cache = createCache({
      redis: redis.url,
      logger: false,
      l2: RELAXED_L2,
      l1: { invalidation: 'bus' },
    })
    open.push(cache)
    await cache.set('k', 1)
    expect((await cache.health()).invalidation).toEqual({ sources: ['bus'] })
    const tracking = (await raw.call('CLIENT', 'LIST')) as string
    expect(tracking).not.toMatch(/flags=\w*t/)
  })

  it('refuses an unknown l1.invalidation', () => {
    expect(() => createCache({ l1: { invalidation: 'gossip' as 'bus' } })).toThrow(
      /l1.invalidation must be one of/,
    )
  })
})

describe('caches sharing one client', () => {
  it('each prefix is tracked, and one closing leaves the others tracked', async () => {
    const shared = new Redis(redis.url)
    const make = (prefix: string) =>
      createCache({ redis: shared, prefix, logger: false, l2: RELAXED_L2, bus: false })
    const [a, b] = [make('shared-a'), make('shared-b')]
    const [peerA, peerB] = [
      await trackingFleet(redis.url, 'shared-a', 1),
      await trackingFleet(redis.url, 'shared-b', 1),
    ].flat()
    open.push(b, peerA!, peerB!)
    await Promise.all([trackingOn(a), trackingOn(b)])
    for (const [cache, peer, prefix] of [
      [a, peerA!, 'shared-a'],
      [b, peerB!, 'shared-b'],
    ] as const) {
      await cacheEverywhere([peer, cache], 'k')
      await raw.set(`${prefix}:k`, 'x')
      expect(await msUntilDropped([cache], 'k')).toBeLessThan(await dropBoundMs())
    }
    await a.close()
    await cacheEverywhere([peerB!, b], 'k2')
    await raw.set('shared-b:k2', 'x')
    expect(await msUntilDropped([b], 'k2')).toBeLessThan(await dropBoundMs())
    await b.close()
    // The last one out leaves the client as it was.
    expect(await shared.call('CLIENT', 'TRACKINGINFO')).toEqual([
      'flags',
      ['off'],
      'redirect',
      -1,
      'prefixes',
      [],
    ])
    shared.disconnect()
  })
})
