import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HistoryPoint } from '../../src/admin/history.js'
import { createHistoryShare } from '../../src/admin/history-share.js'
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js'

const point = (at: number): HistoryPoint => ({
  at,
  hitRate: 0.5,
  opsPerSecond: { hit: 1, miss: 1, stale: 0, error: 0 },
  readMs: null,
  loaderMs: null,
  l1Bytes: null,
  redisMemoryBytes: null,
  l2Errors: 0,
  circuit: 0,
})

describe('the shared history on a Redis Cluster', () => {
  let cluster: TestCluster
  let client: Cluster

  beforeAll(async () => {
    cluster = await startRedisCluster(3)
    client = new Cluster(cluster.startupNodes)
    await new Promise<void>((resolve) => client.once('ready', () => resolve()))
  }, 60_000)
  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })

  it('publishes, lists, reads and removes instances whose keys live on different nodes', async () => {
    const share = createHistoryShare(client, 'cache', { capacity: 3, ttlMs: 10_000, timeoutMs: 2000 })
    const instances = ['0a0a0a0a', '1b1b1b1b', '2c2c2c2c', '3d3d3d3d', '4e4e4e4e', '5f5f5f5f']
    for (const instance of instances) {
      for (let at = 1; at <= 5; at++) await share.publish(instance, point(at))
    }
    // The per-instance lists hash to different slots (the point of the test: a command spanning two of
    // them would fail with CROSSSLOT).
    const slots = await Promise.all(
      instances.map((instance) => client.call('CLUSTER', 'KEYSLOT', `cache:__history:${instance}`)),
    )
    expect(new Set(slots).size).toBeGreaterThan(1)
    expect((await share.live()).sort()).toEqual(instances)
    // Each list keeps the last `capacity` points.
    expect((await share.read('3d3d3d3d')).map((p) => p.at)).toEqual([3, 4, 5])
    await share.remove('3d3d3d3d')
    expect(await share.live()).not.toContain('3d3d3d3d')
    expect(await share.read('3d3d3d3d')).toEqual([])
  })
})
