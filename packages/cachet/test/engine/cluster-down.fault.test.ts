import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { waitFor } from '../entities/fixtures.js'
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js'
import type { TestRedis } from '../helpers/redis-server.js'

const run = promisify(execFile)

/**
 * A 6-node Cluster (3 masters, 3 replicas) loses a whole shard: its master and its replica are frozen
 * (SIGSTOP), no failover is possible, every node turns cluster_state:fail and refuses commands with
 * CLUSTERDOWN while still answering PING. Then the shard comes back.
 */
let cluster: TestCluster
let frozen: TestRedis[] = []

beforeAll(async () => {
  cluster = await startRedisCluster(3, 1)
}, 60_000)

afterAll(async () => {
  for (const node of frozen) node.resume()
  await cluster?.stop()
})

async function clusterState(node: TestRedis): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(node.port), 'CLUSTER', 'INFO'])
  return /cluster_state:(\w+)/.exec(stdout)?.[1] ?? 'unknown'
}

/** The master of another shard than `key`'s, and its replica. */
async function anotherShard(key: string): Promise<TestRedis[]> {
  const keep = await cluster.masterOf(key)
  const { stdout } = await run('redis-cli', ['-p', String(keep.port), 'CLUSTER', 'NODES'])
  const lines = stdout.trim().split('\n')
  const portOf = (line: string) => Number(line.split(' ')[1]!.split('@')[0]!.split(':')[1])
  const master = lines.find((line) => line.includes('master') && portOf(line) !== keep.port)!
  const replica = lines.find((line) => line.split(' ')[3] === master.split(' ')[0])!
  return [portOf(master), portOf(replica)].map((port) => cluster.nodes.find((node) => node.port === port)!)
}

describe('a Cluster that is down (cluster_state:fail)', () => {
  it('health() says unhealthy; a refused set() is an L2 failure that is replayed once the cluster is back', async () => {
    const options = { redis: { cluster: cluster.startupNodes }, prefix: 'down', logger: false as const }
    const a = createCache({ ...options, l2: { timeout: '500ms', circuitBreaker: false } })
    const b = createCache({ ...options, l1: false, l2: { timeout: '500ms', circuitBreaker: false } })
    expect(await a.set('k', 'old')).toBe(true)
    expect(await b.get('k')).toBe('old')
    await waitFor(async () => (await a.health()).status === 'healthy', 10_000)

    const live = await cluster.masterOf('down:k')
    frozen = await anotherShard('down:k')
    for (const node of frozen) node.pause()
    // Before the others declare the shard failed (node timeout 2 s), its frozen master is silent:
    // asked CLUSTER INFO (degraded), or asked the PING itself (unhealthy).
    const early = await a.health()
    expect(early.status).not.toBe('healthy')
    expect(early.reasons.join('; ')).toMatch(
      /1 of 3 masters do not answer|redis does not answer|cluster_state:fail/,
    )
    const sawFail = await waitFor(async () => (await clusterState(live)) === 'fail', 20_000)

    // The nodes still answer PING: health must read the cluster's state, not just the PING.
    const health = await a.health()
    expect(health.status, `${sawFail} ms after the freeze`).toBe('unhealthy')
    expect(health.reasons.join('; ')).toMatch(/cluster_state:fail/)

    const errorsBefore = a.stats().l2!.errors
    expect(await a.set('k', 'new')).toBe(false)
    expect(a.stats().l2!.errors).toBeGreaterThan(errorsBefore)

    for (const node of frozen) node.resume()
    frozen = []
    await cluster.waitForOk(30_000)
    // The refused write is replayed as an invalidation: the value Redis still held is never read again.
    await waitFor(async () => (await b.get('k')) !== 'old', 10_000)
    expect([undefined, 'new']).toContain(await b.get('k'))
    await waitFor(async () => (await a.health()).status === 'healthy', 15_000)
    await Promise.all([a.close(), b.close()])
  })
})
