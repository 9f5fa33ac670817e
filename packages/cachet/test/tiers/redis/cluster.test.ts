import type { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Bus, type BusMessage } from '../../../src/sync/bus.js'
import { connectRedis, type RedisConnection } from '../../../src/tiers/redis/client.js'
import { L2Guard } from '../../../src/tiers/redis/guard.js'
import { RedisTier } from '../../../src/tiers/redis/redis-tier.js'
import { startRedisCluster, type TestCluster } from '../../helpers/redis-cluster.js'
import { entryBytes, isTombstone, tombstoneBytes, version } from './envelope-bytes.js'

let cluster: TestCluster
let connection: RedisConnection
let l2: RedisTier

/** Three masters, no replicas: enough to spread keys over several nodes. */
beforeAll(async () => {
  cluster = await startRedisCluster(3)
  connection = connectRedis(
    { cluster: cluster.startupNodes },
    {
      timeoutMs: 2_000,
    },
  )
  l2 = new RedisTier(connection, new L2Guard({ timeoutMs: 2_000, breaker: false }), { prefix: 'cl' })
  await new Promise<void>((resolve) => (connection.client as Cluster).once('ready', () => resolve()))
})

afterAll(async () => {
  await connection?.close()
  await cluster?.stop()
})

const keys = Array.from({ length: 300 }, (_, i) => `cl:k:${i}`)

describe('RedisTier on a Cluster', () => {
  it('is a cluster connection', () => {
    expect(connection.isCluster).toBe(true)
  })

  it('writes tagged entries, reads them across slots, and invalidates the tag', async () => {
    const results = await l2.setMany(
      keys.map((key) => ({
        key,
        bytes: entryBytes(version(1)),
        ttlMs: 60_000,
        tags: ['t'],
        ifVersion: null,
      })),
    )
    expect(results.every(Boolean)).toBe(true)
    const values = await l2.getMany(keys)
    expect(values.every((value) => value !== undefined && !isTombstone(value))).toBe(true)
    expect(await l2.invalidateTags(['t'], () => tombstoneBytes(version(2)), 60_000)).toBe(300)
    expect((await l2.getMany(keys)).every((value) => isTombstone(value))).toBe(true)
    expect((await l2.tagEpochs(['t', 'u']))[1]).toBe(0)
    expect((await l2.tagEpochs(['t']))[0]).toBeGreaterThan(0)
  })

  it('scanPage walks every master; deleteByPattern removes keys on every master', async () => {
    const seen = new Set<string>()
    let cursor = '0'
    do {
      const page = await l2.scanPage('cl:k:*', cursor, 50)
      for (const key of page.keys) seen.add(key)
      cursor = page.cursor
    } while (cursor !== '0')
    expect(seen.size).toBe(300)
    // The previous test left all 300 as tombstones: they are removed, and none counts as a value.
    expect(await l2.deleteByPattern('cl:k:*')).toBe(0)
    expect((await l2.countByPattern('cl:k:*')).count).toBe(0)
  })

  it('describe, ping and info work', async () => {
    await l2.set({ key: 'cl:d', bytes: entryBytes(version(1)), ttlMs: 60_000, tags: [] })
    const [described] = await l2.describe(['cl:d'])
    expect(described!.type).toBe('string')
    expect(await l2.ping()).toBeGreaterThanOrEqual(0)
    expect(Number((await l2.info()).used_memory)).toBeGreaterThan(0)
  })

  it('the bus works over a Cluster', async () => {
    const received: BusMessage[] = []
    const other = connectRedis(
      { cluster: cluster.startupNodes },
      {
        timeoutMs: 2_000,
      },
    )
    const a = new Bus({ connection, prefix: 'cl', onMessage: () => {}, onGap: () => {} })
    const b = new Bus({
      connection: other,
      prefix: 'cl',
      onMessage: (m) => received.push(m),
      onGap: () => {},
    })
    await a.start()
    await b.start()
    a.publish({ t: 'del', k: ['cl:x'] })
    const started = Date.now()
    while (received.length === 0 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 20))
    expect(received).toEqual([{ t: 'del', k: ['cl:x'] }])
    await a.close()
    await b.close()
    await other.close()
  })
})
