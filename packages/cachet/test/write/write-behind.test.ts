import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { registerWriteBehindMetrics } from '../../src/metrics/prometheus.js'
import { createWriteBehind, type FlushItem, JournalNotDurableError } from '../../src/write/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'
import { openSink, waitFor } from './helpers.js'

const DURABLE = ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']
let journalRedis: TestRedis
let cacheRedis: TestRedis
let journal: Redis
beforeAll(async () => {
  ;[journalRedis, cacheRedis] = await Promise.all([startRedis(DURABLE), startRedis()])
  journal = new Redis(journalRedis.url)
})
afterAll(async () => {
  journal.disconnect()
  await Promise.all([journalRedis.stop(), cacheRedis.stop()])
})

let n = 0
const fresh = () => {
  const id = n++
  return {
    stream: `wb${id}`,
    cache: createCache({ redis: cacheRedis.url, prefix: `wb${id}`, logger: false, l2: RELAXED_L2 }),
  }
}

describe('createWriteBehind', () => {
  it('refuses a journal Redis that evicts or keeps no append-only file, saying what to change', async () => {
    const [plain, evicting] = await Promise.all([
      startRedis(),
      startRedis(['--appendonly', 'yes', '--maxmemory-policy', 'allkeys-lru']),
    ])
    const { cache } = fresh()
    for (const [server, fix] of [
      [plain, 'set appendonly yes'],
      [evicting, 'set maxmemory-policy noeviction'],
    ] as const) {
      const client = new Redis(server.url)
      const refused = createWriteBehind({ cache, journal: client, flush: async () => {} })
      await expect(refused).rejects.toBeInstanceOf(JournalNotDurableError)
      await expect(refused).rejects.toThrow(fix)
      client.disconnect()
    }
    const strict = createWriteBehind({ cache, journal, flush: async () => {}, requireFsyncAlways: true })
    await expect(strict).rejects.toThrow('appendfsync is everysec, so an acknowledged write can be lost')
    await Promise.all([plain.stop(), evicting.stop(), cache.close()])
  })

  it('reads its writes at once, coalesces a key per batch, and reports the journal in health', async () => {
    const { stream, cache } = fresh()
    const sink = await openSink()
    const batches: FlushItem<unknown>[][] = []
    const writeBehind = await createWriteBehind<{ v: number }>({
      cache,
      journal,
      stream,
      consumer: 'reader',
      interval: '300ms',
      flush: async (batch) => {
        batches.push(batch)
        await sink.flush(batch)
      },
    })
    for (let v = 1; v <= 3; v++) {
      await writeBehind.write('product:1', { v })
      expect(await cache.get('product:1')).toEqual({ v })
    }
    await writeBehind.write('product:2', { v: 9 })
    expect((await writeBehind.health()).journal).toMatchObject({ aof: true, maxmemoryPolicy: 'noeviction' })
    await waitFor(async () => (await writeBehind.health()).backlog === 0)
    expect(await sink.count()).toBe(2)
    // Once in the database the key is dropped from the cache: a read that cached an older row meanwhile is undone.
    expect(await cache.get('product:1')).toBeUndefined()
    expect(batches).toHaveLength(1)
    expect(batches[0]!.find((item) => item.key === 'product:1')).toMatchObject({ value: { v: 3 } })
    expect(batches[0]!.find((item) => item.key === 'product:1')!.ids).toHaveLength(3)
    const health = await writeBehind.health()
    expect(health).toMatchObject({ status: 'healthy', backlog: 0, flushed: 4, failures: 0 })
    expect(health.journal.appendfsync).toBe('everysec')
    const registry = new Registry()
    registerWriteBehindMetrics(registry, writeBehind)
    const text = await registry.metrics()
    expect(text).toContain('cachet_write_behind_backlog 0')
    expect(text).toContain('cachet_write_behind_flushed_entries 4')
    expect(text).toContain('cachet_write_behind_journal_fsync_always 0')
    expect(JSON.stringify(await journal.xinfo('CONSUMERS', stream, 'flushers'))).toContain('reader')
    await writeBehind.stop()
    // A flusher that holds nothing leaves the group when it stops.
    expect(JSON.stringify(await journal.xinfo('CONSUMERS', stream, 'flushers'))).not.toContain('reader')
    await expect(writeBehind.write('product:1', { v: 4 })).rejects.toMatchObject({
      code: 'E_WRITE_BEHIND_STOPPED',
    })
    await expect(writeBehind.write('__x', { v: 1 })).rejects.toMatchObject({ code: 'E_WRITE_BEHIND_STOPPED' })
    await Promise.all([cache.close(), sink.db.close()])
  })

  it('merges counters, and refuses bad input with typed errors', async () => {
    const { stream, cache } = fresh()
    const views: FlushItem<number>[] = []
    const writeBehind = await createWriteBehind<number>({
      cache,
      journal,
      stream,
      interval: '200ms',
      merge: (a, b) => a + b,
      flush: async (batch) => {
        views.push(...batch)
      },
    })
    await cache.set('views:1', 10)
    for (let i = 0; i < 5; i++) await writeBehind.write('views:1', 1)
    expect(await cache.get('views:1')).toBe(15)
    // Concurrent writes of one key cannot tell which merged value is the latest: the entry is dropped.
    await Promise.all([writeBehind.write('views:1', 1), writeBehind.write('views:1', 1)])
    expect(await cache.get('views:1')).toBeUndefined()
    await expect(writeBehind.write('', 1)).rejects.toMatchObject({ code: 'E_INVALID_KEY' })
    await expect(writeBehind.write('k', undefined as unknown as number)).rejects.toMatchObject({
      code: 'E_UNDEFINED_VALUE',
    })
    const huge = 'x'.repeat(2 * 1024 * 1024) as unknown as number
    await expect(writeBehind.write('k', huge)).rejects.toMatchObject({ code: 'E_SERIALIZATION' })
    await expect(writeBehind.write('k', (() => 1) as unknown as number)).rejects.toMatchObject({
      code: 'E_SERIALIZATION',
    })
    expect(await journal.xlen(stream)).toBe(7)
    await writeBehind.stop()
    expect(views).toEqual([expect.objectContaining({ key: 'views:1', value: 7 })])
    await cache.close()
  })

  it('is idempotent when a flush committed but its ack was lost, and dead-letters a poison item alone', async () => {
    const { stream, cache } = fresh()
    const sink = await openSink()
    let crashAfterCommit = true
    const writeBehind = await createWriteBehind<{ n: number }>({
      cache,
      journal,
      stream,
      interval: '50ms',
      maxAttempts: 3,
      backoff: { min: '10ms', max: '50ms' },
      flush: async (batch) => {
        if (batch.some((item) => item.key === 'poison')) throw new Error('violates a constraint')
        await sink.flush(batch)
        if (crashAfterCommit) {
          crashAfterCommit = false
          throw new Error('connection lost after commit')
        }
      },
    })
    await Promise.all(Array.from({ length: 50 }, (_, i) => writeBehind.write(`item:${i}`, { n: i })))
    await writeBehind.write('poison', { n: -1 })
    await journal.xadd(stream, '*', 'not', 'ours')
    await Promise.all(Array.from({ length: 50 }, (_, i) => writeBehind.write(`later:${i}`, { n: i })))
    await waitFor(async () => (await writeBehind.health()).deadLettered === 2 && (await sink.count()) === 100)
    const rows = await sink.rows()
    expect(rows.every((row) => row.applies === 1)).toBe(true)
    expect(rows.some((row) => row.key === 'poison')).toBe(false)
    const dead = await journal.xrange(`${stream}:dead`, '-', '+')
    expect(dead.map(([, fields]) => fields)).toEqual([
      expect.arrayContaining(['not', 'ours', 'dlq-reason', 'not a write-behind entry (fields k, s, v)']),
      expect.arrayContaining(['k', 'poison', 'dlq-reason', 'violates a constraint']),
    ])
    const health = await writeBehind.health()
    expect(health.backlog).toBe(0)
    expect(health.failures).toBeGreaterThanOrEqual(4)
    await writeBehind.stop()
    await Promise.all([cache.close(), sink.db.close()])
  })

  it('answers health as unhealthy, without hanging, when the journal Redis is gone', async () => {
    const { stream, cache } = fresh()
    const lost = await startRedis(DURABLE)
    const client = new Redis(lost.url, { maxRetriesPerRequest: 1 })
    client.on('error', () => {})
    const writeBehind = await createWriteBehind({ cache, journal: client, stream, flush: async () => {} })
    await lost.kill()
    const health = await writeBehind.health()
    expect(health.status).toBe('unhealthy')
    expect(health.reasons[0]).toMatch(/^journal Redis unreachable/)
    expect(Number.isNaN(health.backlog)).toBe(true)
    await expect(writeBehind.write('k', 1)).rejects.toThrow()
    await writeBehind.stop()
    client.disconnect()
    await Promise.all([lost.stop(), cache.close()])
  })

  it('a slow flusher keeps its batch: another flusher does not take it over while it works', async () => {
    const { stream, cache } = fresh()
    const flushed = new Map<string, number>()
    const record = (batch: FlushItem<unknown>[]) => {
      for (const item of batch) flushed.set(item.key, (flushed.get(item.key) ?? 0) + 1)
    }
    const shared = { cache, journal, stream, interval: '50ms', claimIdle: '300ms' } as const
    const slow = await createWriteBehind({
      ...shared,
      consumer: 'slow',
      flush: async (batch) => {
        await new Promise((resolve) => setTimeout(resolve, 1_500))
        record(batch)
      },
    })
    await Promise.all(Array.from({ length: 20 }, (_, i) => slow.write(`k:${i}`, i)))
    // The slow flusher has read the batch; only now does a second flusher join the group.
    await waitFor(async () => Number(((await journal.xpending(stream, 'flushers')) as [number])[0]) === 20)
    const other = await createWriteBehind({
      ...shared,
      consumer: 'other',
      flush: async (batch) => record(batch),
    })
    await waitFor(async () => (await slow.health()).flushed === 20)
    expect((await other.health()).flushed).toBe(0)
    expect(flushed.size).toBe(20)
    expect([...flushed.values()].every((times) => times === 1)).toBe(true)
    await Promise.all([slow.stop(), other.stop()])
    await cache.close()
  })

  it('stop() gives up draining after drainTimeout while the database refuses every flush; the writes stay journaled', async () => {
    const { stream, cache } = fresh()
    let attempts = 0
    const writeBehind = await createWriteBehind<{ v: number }>({
      cache,
      journal,
      stream,
      interval: '50ms',
      backoff: { min: '50ms', max: '100ms' },
      drainTimeout: '600ms',
      flush: async () => {
        attempts++
        throw new Error('database down')
      },
    })
    await writeBehind.write('product:1', { v: 1 })
    await waitFor(async () => attempts > 0)
    const started = Date.now()
    await writeBehind.stop()
    const tookMs = Date.now() - started
    // Bounded by drainTimeout (600 ms), far from the 30 s default; at least the timeout itself.
    expect(tookMs).toBeGreaterThanOrEqual(550)
    expect(tookMs).toBeLessThan(5_000)
    expect(attempts).toBeGreaterThan(1)
    expect(await journal.xlen(stream)).toBe(1)
    await cache.close()
  })
})
