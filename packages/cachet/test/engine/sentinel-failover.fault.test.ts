import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { failoverUnderLoad } from '../helpers/failover-load.js'
import { startRedisSentinel, type TestSentinel } from '../helpers/redis-sentinel.js'

let sentinel: TestSentinel

beforeAll(async () => {
  sentinel = await startRedisSentinel()
}, 60_000)

afterAll(async () => {
  await sentinel?.stop()
})

describe('Sentinel: the master is SIGKILLed under load', () => {
  it('no call fails, waits stay bounded, no invalidation is lost, one loader per cold key', async () => {
    const oldPort = await sentinel.masterPort()
    const report = await failoverUnderLoad(sentinel.url, {
      kill: () => sentinel.nodes.find((node) => node.port === oldPort)!.kill(),
      recovered: async () => {
        await sentinel.waitForFailover(oldPort)
      },
    })
    console.log('sentinel failover under load', report)
    expect(report.calls).toBeGreaterThan(1_000)
    expect(report.failed).toBe(0)
    // Bounded by the L2 deadline (500 ms) and the lock wait, far below the failover itself.
    expect(report.longestWaitMs).toBeLessThan(6_000)
    expect(report.staleAfterInvalidation).toBe(0)
    expect(report.coldLoads).toBe(report.coldKeys)
  })
})
