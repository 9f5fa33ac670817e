import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from '../entities/fixtures.js'
import { failoverUnderLoad } from '../helpers/failover-load.js'
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js'

let cluster: TestCluster

beforeAll(async () => {
  cluster = await startRedisCluster(3, 1)
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

describe('Cluster (3 masters, 3 replicas): a master is SIGKILLed under load', () => {
  it('no call fails, waits stay bounded, no invalidation is lost, one loader per cold key', async () => {
    // The shard of the keys invalidated during the failover loses its master.
    const victim = await cluster.masterOf('fo:kept:0')
    const report = await failoverUnderLoad(
      { cluster: cluster.startupNodes },
      {
        kill: () => victim.kill(),
        recovered: async () => {
          // Until a replica takes over, the slot has no live master (masterOf throws) or the dead one.
          const promoted = () => cluster.masterOf('fo:kept:0').then((node) => node.port !== victim.port)
          await waitFor(() => promoted().catch(() => false), 30_000)
          await cluster.waitForOk()
        },
      },
    )
    console.log('cluster failover under load', report)
    expect(report.calls).toBeGreaterThan(1_000)
    expect(report.failed).toBe(0)
    expect(report.longestWaitMs).toBeLessThan(6_000)
    expect(report.staleAfterInvalidation).toBe(0)
    expect(report.coldLoads).toBe(report.coldKeys)
  })
})
