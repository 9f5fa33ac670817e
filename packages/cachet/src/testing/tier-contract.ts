import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createCodec } from '../core/codec/envelope.js'
import type { Entry, L2Tier } from '../core/types.js'

/** What tierContract() needs: your test framework's two functions and a way to make the tier. */
export interface TierContractOptions {
  /** Groups the cases: `describe` of vitest, jest or node:test. */
  describe: (name: string, body: () => void) => unknown
  /** One case: `it` or `test` of vitest, jest or node:test. */
  it: (name: string, body: () => Promise<void>) => unknown
  /**
   * The tier under test, for keys starting with `${prefix}:` (a fresh prefix per case, so cases never
   * see each other's keys and nothing needs cleaning). Called once per case.
   */
  createTier: (prefix: string) => L2Tier | Promise<L2Tier>
  /** Suite title. @default 'L2 tier contract' */
  name?: string
}

const codec = createCodec({ serializer: 'json', compression: false })
const MINUTE = 60_000

/** A 16-hex-char version, unique per call. */
function version(): string {
  return randomBytes(8).toString('hex')
}

/** Envelope bytes of a live entry, fresh for a minute. */
function entry(value: unknown, tags: readonly string[] = [], ver = version()): Buffer {
  const now = Date.now()
  const stored: Entry = {
    value,
    createdAt: now,
    freshUntil: now + MINUTE,
    staleUntil: now + 2 * MINUTE,
    tags,
    version: ver,
    loadMs: 0,
  }
  return codec.encode(stored)
}

function decoded(bytes: Buffer | undefined): unknown {
  if (bytes === undefined) return undefined
  const stored = codec.decode(bytes)
  return stored.kind === 'entry' ? stored.entry.value : stored.kind
}

const tombstone = () => {
  const ver = version()
  return { ver, bytes: (_key: string) => codec.encodeTombstone(ver) }
}

/**
 * Registers the cases every L2 tier must pass, as cachet's engine relies on them: reads and writes,
 * conditional writes (the ghost-write guard), tombstones, tags and their epochs, patterns and paging,
 * describe/ping/info. Call it inside a test file; each case is an `it` of your framework.
 *
 * ```ts
 * import { describe, it } from 'vitest'
 * import { tierContract } from 'cachet/testing'
 * tierContract({ describe, it, createTier: (prefix) => new MyTier({ prefix }) })
 * ```
 */
export function tierContract(options: TierContractOptions): void {
  const { describe, it } = options
  let counter = 0
  const fresh = async () => {
    const prefix = `contract-${process.pid}-${Date.now().toString(36)}-${++counter}`
    return { l2: await options.createTier(prefix), key: (name: string) => `${prefix}:${name}`, prefix }
  }

  describe(options.name ?? 'L2 tier contract', () => {
    it('get returns what set wrote, undefined for an absent key; pttl follows the ttl', async () => {
      const { l2, key } = await fresh()
      const bytes = entry({ a: 1 })
      assert.equal(await l2.set({ key: key('a'), bytes, ttlMs: MINUTE, tags: [] }), true)
      assert.deepEqual(await l2.get(key('a')), bytes)
      assert.equal(await l2.get(key('missing')), undefined)
      const pttl = await l2.pttl(key('a'))
      assert.ok(pttl !== undefined && pttl > MINUTE - 10_000 && pttl <= MINUTE, `pttl ${pttl}`)
      assert.equal(await l2.pttl(key('missing')), undefined)
    })

    it('an entry is gone once its ttl has passed', async () => {
      const { l2, key } = await fresh()
      await l2.set({ key: key('short'), bytes: entry(1), ttlMs: 50, tags: [] })
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.equal(await l2.get(key('short')), undefined)
    })

    it('getMany answers in the order asked, undefined for misses; [] for no keys', async () => {
      const { l2, key } = await fresh()
      await l2.setMany([
        { key: key('a'), bytes: entry('A'), ttlMs: MINUTE, tags: [] },
        { key: key('c'), bytes: entry('C'), ttlMs: MINUTE, tags: [] },
      ])
      const values = await l2.getMany([key('a'), key('b'), key('c')])
      assert.deepEqual(values.map(decoded), ['A', undefined, 'C'])
      assert.deepEqual(await l2.getMany([]), [])
    })

    it('ifVersion null writes only when the key is absent', async () => {
      const { l2, key } = await fresh()
      const write = (value: string) =>
        l2.set({ key: key('k'), bytes: entry(value), ttlMs: MINUTE, tags: [], ifVersion: null })
      assert.equal(await write('first'), true)
      assert.equal(await write('second'), false)
      assert.equal(decoded(await l2.get(key('k'))), 'first')
    })

    it('ifVersion writes only over the version it names, also over a tombstone', async () => {
      const { l2, key } = await fresh()
      const v1 = version()
      await l2.set({ key: key('k'), bytes: entry('one', [], v1), ttlMs: MINUTE, tags: [] })
      const conditional = (value: string, ifVersion: string) =>
        l2.set({ key: key('k'), bytes: entry(value), ttlMs: MINUTE, tags: [], ifVersion })
      assert.equal(await conditional('stale writer', version()), false)
      assert.equal(decoded(await l2.get(key('k'))), 'one')
      assert.equal(await conditional('two', v1), true)
      assert.equal(decoded(await l2.get(key('k'))), 'two')

      const tomb = tombstone()
      await l2.invalidate([key('k')], tomb.bytes, MINUTE)
      // A loader that saw the old entry must not write it back; one that saw the tombstone may write.
      assert.equal(await conditional('ghost', v1), false)
      assert.equal(await conditional('after', tomb.ver), true)
      assert.equal(decoded(await l2.get(key('k'))), 'after')
    })

    it('setMany answers one result per write, each condition on its own', async () => {
      const { l2, key } = await fresh()
      const v1 = version()
      await l2.set({ key: key('b'), bytes: entry('b', [], v1), ttlMs: MINUTE, tags: [] })
      const results = await l2.setMany([
        { key: key('a'), bytes: entry('a'), ttlMs: MINUTE, tags: [], ifVersion: null },
        { key: key('b'), bytes: entry('b2'), ttlMs: MINUTE, tags: [], ifVersion: null },
        { key: key('b'), bytes: entry('b3'), ttlMs: MINUTE, tags: [], ifVersion: v1 },
      ])
      assert.deepEqual(results, [true, false, true])
      assert.deepEqual(await l2.setMany([]), [])
    })

    it('invalidate leaves tombstones and counts only the keys that held an entry', async () => {
      const { l2, key } = await fresh()
      await l2.set({ key: key('live'), bytes: entry(1), ttlMs: MINUTE, tags: [] })
      const keys = [key('live'), key('absent')]
      const tomb = tombstone()
      assert.equal(await l2.invalidate(keys, tomb.bytes, MINUTE), 1)
      for (const k of keys) assert.equal(decoded(await l2.get(k)), 'tombstone', k)
      assert.equal(await l2.invalidate(keys, tombstone().bytes, MINUTE), 0)
    })

    it('invalidateTags reaches every tagged entry, leaves the others, and moves the epochs', async () => {
      const { l2, key, prefix } = await fresh()
      const tag = `${prefix}-orders`
      const [before] = await l2.tagEpochs([tag])
      await l2.setMany([
        ...Array.from({ length: 30 }, (_, i) => ({
          key: key(`t${i}`),
          bytes: entry(i, [tag]),
          ttlMs: MINUTE,
          tags: [tag],
        })),
        { key: key('other'), bytes: entry('x'), ttlMs: MINUTE, tags: [] },
      ])
      assert.equal(await l2.invalidateTags([tag], tombstone().bytes, MINUTE), 30)
      for (let i = 0; i < 30; i++) assert.equal(decoded(await l2.get(key(`t${i}`))), 'tombstone')
      assert.equal(decoded(await l2.get(key('other'))), 'x')
      const [after] = await l2.tagEpochs([tag])
      assert.ok(after! > before!, `epoch ${before} -> ${after}`)
      assert.equal(await l2.invalidateTags([tag], tombstone().bytes, MINUTE), 0)
    })

    it('tagPage pages cover the live entries of a tag; tagCount counts them', async () => {
      const { l2, key, prefix } = await fresh()
      const tag = `${prefix}-seen`
      const names = Array.from({ length: 60 }, (_, i) => key(`s${i}`))
      await l2.setMany(names.map((k) => ({ key: k, bytes: entry(k, [tag]), ttlMs: MINUTE, tags: [tag] })))
      await l2.invalidate([names[0]!], tombstone().bytes, MINUTE)
      const seen = new Set<string>()
      let cursor = '0'
      let pages = 0
      do {
        const page = await l2.tagPage(tag, cursor, 10)
        for (const k of page.keys) seen.add(k)
        cursor = page.cursor
        assert.ok(++pages < 1_000, 'tagPage never ends')
      } while (cursor !== '0')
      assert.deepEqual([...seen].sort(), names.slice(1).sort())
      assert.equal(await l2.tagCount(tag), 59)
      assert.equal(await l2.tagCount(`${prefix}-none`), 0)
    })

    it('expireTags leaves entries stale (fresh until now, grace kept) and keeps them indexed', async () => {
      const { l2, key, prefix } = await fresh()
      const tag = `${prefix}-soft`
      const before = Date.now()
      await l2.setMany([
        { key: key('a'), bytes: entry('A', [tag]), ttlMs: 2 * MINUTE, tags: [tag] },
        { key: key('b'), bytes: entry('B'), ttlMs: 2 * MINUTE, tags: [] },
      ])
      const [epochBefore] = await l2.tagEpochs([tag])
      const now = Date.now()
      assert.equal(await l2.expireTags([tag], now), 1)
      const stored = codec.decode((await l2.get(key('a')))!)
      assert.equal(stored.kind, 'entry')
      if (stored.kind === 'entry') {
        assert.equal(stored.entry.freshUntil, now)
        assert.ok(stored.entry.staleUntil >= before + 2 * MINUTE, 'grace kept')
        assert.equal(stored.entry.value, 'A')
      }
      const other = codec.decode((await l2.get(key('b')))!)
      assert.ok(other.kind === 'entry' && other.entry.freshUntil > now, 'untagged entry untouched')
      const [epochAfter] = await l2.tagEpochs([tag])
      assert.ok(epochAfter! > epochBefore!, 'epoch moved')
      assert.equal(await l2.tagCount(tag), 1)
      assert.equal(await l2.invalidateTags([tag], tombstone().bytes, MINUTE), 1)
    })

    it('tagEpochs is 0 for a tag never invalidated, [] for no tags', async () => {
      const { l2, prefix } = await fresh()
      assert.deepEqual(await l2.tagEpochs([`${prefix}-never`]), [0])
      assert.deepEqual(await l2.tagEpochs([]), [])
    })

    it('countByPattern and deleteByPattern match the glob only, inside the prefix', async () => {
      const { l2, key, prefix } = await fresh()
      await l2.setMany(
        ['user:1', 'user:2', 'user:3', 'post:1'].map((name) => ({
          key: key(name),
          bytes: entry(name),
          ttlMs: MINUTE,
          tags: [],
        })),
      )
      const counted = await l2.countByPattern(`${prefix}:user:*`, 2)
      assert.equal(counted.count, 3)
      assert.equal(counted.sample.length, 2)
      assert.equal(await l2.deleteByPattern(`${prefix}:user:*`), 3)
      assert.equal(await l2.get(key('user:1')), undefined)
      assert.equal(decoded(await l2.get(key('post:1'))), 'post:1')
    })

    it('refuses a pattern that does not start with the prefix', async () => {
      const { l2 } = await fresh()
      await assert.rejects(async () => l2.deleteByPattern('*'))
      await assert.rejects(async () => l2.countByPattern('other:*'))
    })

    it('scanPage pages cover every key, and end with cursor "0"', async () => {
      const { l2, key, prefix } = await fresh()
      const names = Array.from({ length: 120 }, (_, i) => key(`p${i}`))
      await l2.setMany(names.map((k) => ({ key: k, bytes: entry(k), ttlMs: MINUTE, tags: [] })))
      const seen = new Set<string>()
      let cursor = '0'
      let pages = 0
      do {
        const page = await l2.scanPage(`${prefix}:*`, cursor, 25)
        for (const k of page.keys) seen.add(k)
        cursor = page.cursor
        assert.ok(++pages < 1_000, 'scanPage never ends')
      } while (cursor !== '0')
      assert.deepEqual([...seen].sort(), [...names].sort())
    })

    it('describe tells type, ttl, size and freshness, and spots tombstones', async () => {
      const { l2, key } = await fresh()
      await l2.set({ key: key('live'), bytes: entry('v'), ttlMs: MINUTE, tags: [] })
      await l2.invalidate([key('gone')], tombstone().bytes, MINUTE)
      const [live, gone] = await l2.describe([key('live'), key('gone')])
      assert.equal(live!.type, 'string')
      assert.ok(live!.pttl !== undefined && live!.pttl > 0)
      assert.equal(live!.tombstone, false)
      assert.ok(live!.freshUntil !== undefined && live!.freshUntil > Date.now())
      assert.equal(gone!.tombstone, true)
      assert.deepEqual(await l2.describe([]), [])
    })

    it('ping answers a round trip in ms; info answers a record of fields', async () => {
      const { l2 } = await fresh()
      const ms = await l2.ping()
      assert.ok(Number.isFinite(ms) && ms >= 0, `ping ${ms}`)
      const info = await l2.info()
      assert.equal(typeof info, 'object')
    })
  })
}
