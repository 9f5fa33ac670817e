import { describe, expect, it } from 'vitest'
import {
  cached,
  createCache,
  type LoaderContext,
  LoaderFailedError,
  type Serializer,
} from '../../src/index.js'
import { redisSuite } from '../helpers/redis-suite.js'

const suite = redisSuite({ jitter: 0, timeouts: { soft: '5s' } })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** A soft timeout this wide keeps a loaded machine from serving the stale value before the loader ends. */
const newCache = suite.cache

/** Polls until `check` is true (background writes land a few ms after the call answers). */
async function until(check: () => Promise<boolean> | boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

const stored = (full: string) => async () => (await suite.raw.exists(full)) === 1

describe('value-derived options', () => {
  it('setTtl() shorter than the call ttl: the entry expires by it, in L1 and in Redis', async () => {
    const a = newCache()
    const b = newCache({ prefix: a.prefix, l1: false })
    let loads = 0
    const load = (ctx: LoaderContext<string>) => {
      loads++
      ctx.setTtl(300)
      return 'short'
    }
    expect(await a.getOrSet('k', load, { ttl: '1h' })).toBe('short')
    await until(stored(`${a.prefix}:k`), 'the write-back')
    expect(await a.ttl('k')).toBeLessThanOrEqual(300)
    expect(await b.ttl('k')).toBeLessThanOrEqual(300)
    await sleep(450)
    await a.getOrSet('k', load, { ttl: '1h', timeouts: { soft: false } })
    expect(loads).toBe(2)
    await Promise.all([a.close(), b.close()])
  })

  it('setTtl() longer than the call ttl: the entry stays fresh past the call ttl', async () => {
    const a = newCache()
    const b = newCache({ prefix: a.prefix, l1: false })
    let loads = 0
    const load = (ctx: LoaderContext<string>) => {
      loads++
      ctx.setTtl('1h')
      return 'long'
    }
    await a.getOrSet('k', load, { ttl: 100 })
    await until(stored(`${a.prefix}:k`), 'the write-back')
    await sleep(300)
    expect(await a.getOrSet('k', load, { ttl: 100 })).toBe('long')
    expect(loads).toBe(1)
    expect(await b.ttl('k')).toBeGreaterThan(59 * 60_000)
    await Promise.all([a.close(), b.close()])
  })

  it('setGrace(false) stores the value without grace: Redis keeps it for its ttl only', async () => {
    const cache = newCache()
    await cache.getOrSet(
      'k',
      (ctx) => {
        ctx.setGrace(false)
        return 1
      },
      { ttl: '1h' },
    )
    await until(stored(`${cache.prefix}:k`), 'the write-back')
    const pttl = await suite.raw.pttl(`${cache.prefix}:k`)
    // The default grace (1 h) would make it about 2 h.
    expect(pttl).toBeGreaterThan(59 * 60_000)
    expect(pttl).toBeLessThanOrEqual(60 * 60_000)
    await cache.close()
  })

  it('setTags() adds tags to the call tags; invalidateTags of either removes the entry everywhere', async () => {
    const a = newCache()
    const b = newCache({ prefix: a.prefix })
    let loads = 0
    const load = (ctx: LoaderContext<{ id: number }>) => {
      loads++
      ctx.setTags(['product:1', 'category:7'])
      return { id: 1 }
    }
    await a.getOrSet('p:1', load, { tags: ['products'] })
    await until(stored(`${a.prefix}:p:1`), 'the write-back')
    expect((await b.inspect('p:1'))?.tags).toEqual(['products', 'product:1', 'category:7'])
    expect(await b.tagCount('category:7')).toBe(1)
    expect(await b.invalidateTags(['product:1'])).toBe(1)
    await until(async () => (await a.get('p:1')) === undefined, "a's L1 copy to go")
    expect((await b.inspect('p:1'))?.state).toBe('tombstone')
    await a.getOrSet('p:1', load, { tags: ['products'] })
    expect(loads).toBe(2)
    await until(async () => (await b.inspect('p:1'))?.state === 'fresh', 'the second write-back')
    expect(await a.invalidateTags(['products'])).toBe(1)
    expect(await b.get('p:1')).toBeUndefined()
    await Promise.all([a.close(), b.close()])
  })

  it('an invalidation of a tag setTags() added, made by another instance while the loader runs, keeps the value out of Redis', async () => {
    // No bus: only the tag's epoch in Redis can tell this instance about the invalidation.
    const a = newCache({ bus: false, l1: { invalidation: 'tracking' } })
    const b = newCache({ prefix: a.prefix })
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let tagged!: () => void
    const tagSet = new Promise<void>((resolve) => {
      tagged = resolve
    })
    let loads = 0
    const first = a.getOrSet('p:2', async (ctx) => {
      loads++
      ctx.setTags(['product:2'])
      tagged()
      await gate
      return 'before the update'
    })
    await tagSet
    // Let the epoch read setTags started reach Redis before the invalidation (wide: a loaded machine).
    await sleep(300)
    await b.invalidateTags(['product:2'])
    release()
    expect(await first).toBe('before the update')
    // The write-back finds the epoch moved and undoes itself: a tombstone, and nothing in a's L1.
    await until(async () => (await b.inspect('p:2'))?.state === 'tombstone', 'the undo')
    expect(await a.getOrSet('p:2', () => 'after the update')).toBe('after the update')
    expect(loads).toBe(1)
    await Promise.all([a.close(), b.close()])
  })

  it('setTags() on a call that names a tag twice: the write-back compares each tag with its own epoch', async () => {
    const a = newCache()
    const b = newCache({ prefix: a.prefix })
    // 'products' has been invalidated before (its epoch moved), 'product:3' never: their epochs differ.
    // By `a` itself: no bus message about it can reach `a` during the load below.
    await a.invalidateTags(['products'])
    let loads = 0
    const load = (ctx: LoaderContext<string>) => {
      loads++
      ctx.setTags(['product:3'])
      return 'three'
    }
    expect(await a.getOrSet('p:3', load, { tags: ['products', 'products'] })).toBe('three')
    await until(stored(`${a.prefix}:p:3`), 'the write-back')
    // Let a wrong epoch comparison undo the write (it would, within a round trip or two).
    await sleep(300)
    expect((await b.inspect('p:3'))?.state).toBe('fresh')
    expect(await b.getOrSet('p:3', load)).toBe('three')
    expect(loads).toBe(1)
    expect(await b.invalidateTags(['product:3'])).toBe(1)
    await Promise.all([a.close(), b.close()])
  })

  it('setTags() refuses a bad tag: the load fails with InvalidKeyError and nothing is stored', async () => {
    const cache = newCache()
    await expect(
      cache.getOrSet('k', (ctx) => {
        ctx.setTags(['__reserved'])
        return 1
      }),
    ).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    await sleep(50)
    expect(await suite.raw.exists(`${cache.prefix}:k`)).toBe(0)
    await cache.close()
  })

  it('skip() returns the value and leaves nothing in L1 or Redis; noStore() is the same', async () => {
    const a = newCache()
    const b = newCache({ prefix: a.prefix })
    let loads = 0
    for (const how of ['skip', 'noStore'] as const) {
      const result = await a.getOrSetResult(`k:${how}`, (ctx) => {
        loads++
        ctx[how]()
        return { private: true }
      })
      expect(result).toMatchObject({ value: { private: true }, outcome: 'miss' })
      await sleep(100)
      expect(await suite.raw.exists(`${a.prefix}:k:${how}`)).toBe(0)
      expect(await b.get(`k:${how}`)).toBeUndefined()
      expect(await a.get(`k:${how}`)).toBeUndefined()
    }
    expect(loads).toBe(2)
    expect(a.stats().sets).toBe(0)
    await Promise.all([a.close(), b.close()])
  })

  it('fail() with a stale value serves it (fail-safe); the loader error is emitted', async () => {
    const cache = newCache()
    await cache.set('k', 'old', { ttl: 100 })
    await sleep(250)
    const errors: string[] = []
    cache.on('error', ({ operation, error }) => errors.push(`${operation}: ${error.message}`))
    const result = await cache.getOrSetResult('k', (ctx) => ctx.fail(new Error('upstream is down')))
    expect(result).toMatchObject({ value: 'old', outcome: 'stale', staleReason: 'fail-safe' })
    expect(errors).toEqual(['loader: upstream is down'])
    await cache.close()
  })

  it('fail() without a stale value throws its error, or a LoaderFailedError; even when the loader swallows the throw', async () => {
    const cache = newCache()
    const down = new Error('upstream is down')
    await expect(cache.getOrSet('a', (ctx) => ctx.fail(down))).rejects.toBe(down)
    const noError = cache.getOrSet('b', (ctx) => ctx.fail())
    await expect(noError).rejects.toBeInstanceOf(LoaderFailedError)
    await expect(noError).rejects.toMatchObject({ code: 'E_LOADER_FAILED', key: 'b' })
    const swallowed = cache.getOrSet('c', (ctx) => {
      try {
        ctx.fail()
      } catch {
        // A loader that catches everything still reported a failure.
      }
      return 'not a real value'
    })
    await expect(swallowed).rejects.toBeInstanceOf(LoaderFailedError)
    await sleep(50)
    expect(await suite.raw.exists(`${cache.prefix}:a`, `${cache.prefix}:b`, `${cache.prefix}:c`)).toBe(0)
    await cache.close()
  })

  it('wrong setter arguments fail the load with InvalidOptionError', async () => {
    const cache = newCache()
    const cases: Array<(ctx: LoaderContext<number>) => void> = [
      (ctx) => ctx.setTtl(0),
      (ctx) => ctx.setTtl('5 minutes' as '5m'),
      (ctx) => ctx.setEtag(''),
      (ctx) => ctx.setEtag('x'.repeat(2000)),
      (ctx) => ctx.setLastModified('not a date'),
      (ctx) => ctx.setTags('one' as unknown as string[]),
    ]
    for (const [i, misuse] of cases.entries()) {
      await expect(
        cache.getOrSet<number>(`bad:${i}`, (ctx) => {
          misuse(ctx)
          return 1
        }),
      ).rejects.toMatchObject({ code: 'E_INVALID_OPTION' })
    }
    await cache.close()
  })
})

describe('getOrSetMany, wrap and @cached', () => {
  it("getOrSetMany's loader sets the ttl and tags of the whole batch, or skips storing it", async () => {
    const cache = newCache()
    await cache.getOrSetMany(
      ['u:1', 'u:2'],
      async (missing, ctx) => {
        ctx.setTtl('2h')
        ctx.setTags(['users', 'batch:1'])
        return missing.map((key) => ({ key }))
      },
      { ttl: 100, tags: ['users'] },
    )
    await until(stored(`${cache.prefix}:u:2`), 'the batch write')
    expect(await cache.ttl('u:1')).toBeGreaterThan(119 * 60_000)
    expect((await cache.inspect('u:2'))?.tags).toEqual(['users', 'batch:1'])
    expect(await cache.invalidateTags(['batch:1'])).toBe(2)

    const skipped = await cache.getOrSetMany(['s:1'], async (missing, ctx) => {
      ctx.skip()
      return missing.map(() => 'private')
    })
    expect(skipped).toEqual(['private'])
    await sleep(100)
    expect(await suite.raw.exists(`${cache.prefix}:s:1`)).toBe(0)
    expect(await cache.get('s:1')).toBeUndefined()

    await expect(cache.getOrSetMany(['f:1'], async (_, ctx) => ctx.fail())).rejects.toBeInstanceOf(
      LoaderFailedError,
    )
    await cache.close()
  })

  it('wrap() and @cached() derive options from the result: skip a null, tag and time the rest', async () => {
    const cache = newCache()
    const calls: number[] = []
    async function findUser(id: number) {
      calls.push(id)
      return id === 0 ? null : { id, org: 7 }
    }
    const getUser = cache.wrap(findUser, {
      ttl: 100,
      derive: (user, ctx) => {
        if (user === null) return ctx.skip()
        ctx.setTags([`org:${user.org}`])
        ctx.setTtl('1h')
      },
    })
    expect(await getUser(0)).toBeNull()
    expect(await getUser(0)).toBeNull()
    expect(await getUser(1)).toEqual({ id: 1, org: 7 })
    await sleep(250)
    expect(await getUser(1)).toEqual({ id: 1, org: 7 })
    expect(calls).toEqual([0, 0, 1])
    await until(async () => (await cache.tagCount('org:7')) === 1, 'the tagged write')

    class Reports {
      async daily(): Promise<string> {
        return 'report'
      }
    }
    const descriptor = Object.getOwnPropertyDescriptor(Reports.prototype, 'daily')!
    const decorate = cached(cache, { derive: (_value, ctx) => ctx.setTtl(50) })
    Object.defineProperty(Reports.prototype, 'daily', decorate(Reports.prototype, 'daily', descriptor))
    const reports = new Reports()
    await reports.daily()
    await until(async () => (await cache.ttl('method:Reports.daily')) !== undefined, 'the method write')
    expect(await cache.ttl('method:Reports.daily')).toBeLessThanOrEqual(50)
    await cache.close()
  })
})

/** A serializer that counts its calls: a renewal must not call `serialize`. */
function countingSerializer(): Serializer & { serialized: number } {
  const counter = {
    id: 3,
    serialized: 0,
    serialize(value: unknown) {
      counter.serialized++
      return Buffer.from(JSON.stringify(value))
    },
    deserialize: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')),
  }
  return counter
}

const payloadOf = (bytes: Buffer) => bytes.subarray(47 + bytes.readUInt16BE(45))

describe('conditional refresh', () => {
  const lastModified = new Date('2026-11-30T12:00:00.000Z')

  it('hands the stored etag and lastModified back to the loader on refresh', async () => {
    const cache = newCache()
    await cache.getOrSet(
      'doc',
      (ctx) => {
        expect(ctx.etag).toBeUndefined()
        ctx.setEtag('"v1"')
        ctx.setLastModified(lastModified.toUTCString())
        return 'body'
      },
      { ttl: 100 },
    )
    await until(stored(`${cache.prefix}:doc`), 'the write-back')
    expect(await cache.inspect('doc')).toMatchObject({ etag: '"v1"', lastModified: lastModified.getTime() })
    await sleep(250)
    let seen: unknown
    await cache.getOrSet(
      'doc',
      (ctx) => {
        seen = { stale: ctx.stale, etag: ctx.etag, lastModified: ctx.lastModified }
        return 'body 2'
      },
      { ttl: 100 },
    )
    expect(seen).toEqual({ stale: 'body', etag: '"v1"', lastModified })
    // A new value the loader gave no validators carries none.
    await until(async () => (await cache.inspect('doc'))?.value === 'body 2', 'the second write-back')
    await sleep(250)
    await cache.getOrSet('doc', (ctx) => {
      seen = ctx.etag
      return 'body 3'
    })
    expect(seen).toBeUndefined()
    await cache.close()
  })

  it('notModified() renews across two instances: new ttl, same payload bytes, serialize never called', async () => {
    const serializer = countingSerializer()
    const a = newCache({ serializer })
    const b = newCache({ prefix: a.prefix, serializer })
    const full = `${a.prefix}:doc`
    await a.getOrSet(
      'doc',
      (ctx) => {
        ctx.setEtag('"v1"')
        ctx.setLastModified(lastModified)
        return { title: 'hello', rows: [1, 2, 3] }
      },
      { ttl: 150 },
    )
    await until(stored(full), 'the write-back')
    const before = (await suite.raw.getBuffer(full))!
    expect(serializer.serialized).toBe(1)
    await sleep(300)

    // b has nothing in L1: the stale entry and its validators come from Redis.
    let seen: unknown
    const renewed = await b.getOrSetResult(
      'doc',
      (ctx) => {
        seen = { etag: ctx.etag, lastModified: ctx.lastModified }
        return ctx.notModified()
      },
      { ttl: '1h' },
    )
    expect(seen).toEqual({ etag: '"v1"', lastModified })
    expect(renewed).toMatchObject({ value: { title: 'hello', rows: [1, 2, 3] }, outcome: 'miss' })
    await until(
      async () => !(await suite.raw.getBuffer(full))!.subarray(1, 17).equals(before.subarray(1, 17)),
      'the renewal',
    )
    const after = (await suite.raw.getBuffer(full))!
    expect(payloadOf(after).equals(payloadOf(before))).toBe(true)
    expect(serializer.serialized).toBe(1)
    expect(await suite.raw.pttl(full)).toBeGreaterThan(60 * 60_000)

    // a's copy was stale: it now finds the renewed entry fresh in Redis, and runs no loader.
    const fromA = await a.getOrSetResult('doc', () => {
      throw new Error('must not run')
    })
    expect(fromA).toMatchObject({ value: { title: 'hello', rows: [1, 2, 3] }, outcome: 'hit', source: 'l2' })
    expect(await a.ttl('doc')).toBeGreaterThan(59 * 60_000)
    // The validators were kept with the renewed entry.
    let again: unknown
    await b.getOrSet(
      'doc',
      (ctx) => {
        again = ctx.etag
        return ctx.notModified()
      },
      { forceRefresh: true },
    )
    expect(again).toBe('"v1"')
    expect(serializer.serialized).toBe(1)
    await Promise.all([a.close(), b.close()])
  })

  it('notModified() renews the stale copy an instance holds in L1, and can change the etag', async () => {
    const serializer = countingSerializer()
    const cache = newCache({ serializer })
    await cache.getOrSet(
      'doc',
      (ctx) => {
        ctx.setEtag('"v1"')
        return 'body'
      },
      { ttl: 100 },
    )
    await until(stored(`${cache.prefix}:doc`), 'the write-back')
    await sleep(250)
    await cache.getOrSet(
      'doc',
      (ctx) => {
        ctx.setEtag('"v1-gzip"')
        return ctx.notModified()
      },
      { ttl: '1h' },
    )
    expect(serializer.serialized).toBe(1)
    expect(await cache.ttl('doc')).toBeGreaterThan(59 * 60_000)
    let etag: unknown
    await cache.getOrSet(
      'doc',
      (ctx) => {
        etag = ctx.etag
        return 'body 2'
      },
      { forceRefresh: true },
    )
    expect(etag).toBe('"v1-gzip"')
    await cache.close()
  })

  it('notModified() renews in an L1-only cache too (the value is encoded again: L1 keeps no bytes)', async () => {
    const serializer = countingSerializer()
    const cache = createCache({ prefix: 'ctx-l1', logger: false, jitter: 0, serializer })
    let loads = 0
    const load = (ctx: LoaderContext<string>) => {
      loads++
      if (ctx.stale !== undefined) return ctx.notModified()
      ctx.setEtag('"v1"')
      return 'body'
    }
    await cache.getOrSet('doc', load, { ttl: 100, timeouts: { soft: '5s' } })
    await sleep(250)
    expect(await cache.getOrSet('doc', load, { ttl: '1h', timeouts: { soft: '5s' } })).toBe('body')
    expect(loads).toBe(2)
    expect(serializer.serialized).toBe(2)
    expect(await cache.ttl('doc')).toBeGreaterThan(59 * 60_000)
    expect(await cache.getOrSet('doc', load)).toBe('body')
    expect(loads).toBe(2)
    await cache.close()
  })

  it('notModified() with no stale value fails the load with LoaderFailedError', async () => {
    const cache = newCache()
    await expect(cache.getOrSet('none', (ctx) => ctx.notModified())).rejects.toBeInstanceOf(LoaderFailedError)
    await cache.close()
  })
})

describe('other rewrites of a stored entry', () => {
  it('expire() and addTags() rewrite the header around the stored payload: serialize is not called', async () => {
    const serializer = countingSerializer()
    const a = newCache({ serializer })
    const b = newCache({ prefix: a.prefix, serializer, l1: false })
    await a.set('doc', { rows: [1, 2, 3] })
    await until(stored(`${a.prefix}:doc`), 'the write')
    const before = (await suite.raw.getBuffer(`${a.prefix}:doc`))!
    expect(serializer.serialized).toBe(1)
    expect(await a.expire('doc', '2h')).toBe(true)
    expect(await a.addTags('doc', ['reports'])).toBe(true)
    expect(serializer.serialized).toBe(1)
    const after = (await suite.raw.getBuffer(`${a.prefix}:doc`))!
    expect(payloadOf(after).equals(payloadOf(before))).toBe(true)
    expect(await b.get('doc')).toEqual({ rows: [1, 2, 3] })
    expect(await b.ttl('doc')).toBeGreaterThan(119 * 60_000)
    expect((await b.inspect('doc'))?.tags).toEqual(['reports'])
    await Promise.all([a.close(), b.close()])
  })
})
