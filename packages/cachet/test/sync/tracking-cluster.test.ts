import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CacheApi } from '../../src/index.js'
import {
  cacheEverywhere,
  DROP_MS,
  dropBoundMs,
  inL1,
  msUntilDropped,
  trackingFleet,
} from '../helpers/l1-fleet.js'
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

const run = promisify(execFile)
/** Keys spread over the three masters' slots. */
const KEYS = Array.from({ length: 9 }, (_, i) => `user:${i}`)

let cluster: TestCluster
let raw: Cluster
let caches: CacheApi[]
const added: TestRedis[] = []

beforeAll(async () => {
  cluster = await startRedisCluster(3)
  for (const node of cluster.nodes) {
    const admin = new Redis(node.url)
    // Active expiry every 10 ms; only keys with a TTL (cachet's entries) are evicted.
    await admin.config('SET', 'hz', '100')
    await admin.config('SET', 'maxmemory-policy', 'volatile-lru')
    admin.disconnect()
  }
  raw = new Cluster(cluster.startupNodes)
  caches = await trackingFleet({ cluster: cluster.startupNodes }, 'tc')
}, 60_000)

afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()))
  raw.disconnect()
  await Promise.all(added.map((node) => node.stop()))
  await cluster.stop()
})

/** The port of the master serving a key. */
async function masterOf(key: string): Promise<number> {
  const slot = (await raw.cluster('KEYSLOT', key)) as number
  const slots = await raw.cluster('SLOTS')
  return slots.find(([from, to]) => slot >= from && slot <= to)![2]![1]
}

describe('Redis tracking on a Cluster (3 masters, bus off)', () => {
  it('the test keys live on every master', async () => {
    const ports = new Set(await Promise.all(KEYS.map((key) => masterOf(`tc:${key}`))))
    expect(ports.size).toBe(3)
  })

  it(`drops every instance's copy within ${DROP_MS} ms of a raw SET or DEL, on every master`, async () => {
    for (const [i, key] of KEYS.entries()) {
      await cacheEverywhere(caches, key)
      if (i % 2 === 0) await raw.set(`tc:${key}`, 'written by another client')
      else await raw.del(`tc:${key}`)
      expect(await msUntilDropped(caches, key)).toBeLessThan(await dropBoundMs())
    }
  })

  it(`drops every instance's copy within ${DROP_MS} ms of the key's expiry`, async () => {
    for (const key of KEYS.slice(0, 3)) {
      await cacheEverywhere(caches, key)
      await raw.pexpire(`tc:${key}`, 300)
      await msUntilDropped(caches, key)
      for (const cache of caches) await cache.getOrSet(key, async () => 'loaded')
      const expiresAt = performance.now() + (await raw.pttl(`tc:${key}`))
      expect(caches.every((cache) => inL1(cache, key))).toBe(true)
      await msUntilDropped(caches, key, 5_000)
      expect(performance.now() - expiresAt).toBeLessThan(await dropBoundMs())
    }
  })

  it(`drops every instance's copy within ${DROP_MS} ms of the key's eviction under maxmemory`, async () => {
    const key = KEYS[0]!
    await cacheEverywhere(caches, key, 'x'.repeat(10_000))
    const port = await masterOf(`tc:${key}`)
    const node = new Redis(port)
    const used = Number((await node.info('memory')).match(/used_memory:(\d+)/)![1])
    await node.config('SET', 'maxmemory', String(used + 2 * 1024 * 1024))
    let evictedAt: number | undefined
    // Filler keys without a TTL, hashed to the same node by a hash tag of the key's slot.
    const tag = `{tc:${key}}`
    for (let i = 0; evictedAt === undefined && i < 1_000; i++) {
      // The write that evicts the key may itself be refused (OOM) once no key with a TTL is left.
      const [, [, exists]] = (await node
        .pipeline()
        .set(`${tag}filler:${i}`, 'f'.repeat(64 * 1024))
        .exists(`tc:${key}`)
        .exec()) as [unknown, [unknown, number]]
      if (exists === 0) evictedAt = performance.now()
    }
    expect(evictedAt).toBeDefined()
    await msUntilDropped(caches, key)
    expect(performance.now() - evictedAt!).toBeLessThan(await dropBoundMs())
    await node.config('SET', 'maxmemory', '0')
    node.disconnect()
  })

  it('tracks a new master once it serves slots, and drops copies of its keys', async () => {
    const node = await startRedis(['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'])
    added.push(node)
    const first = cluster.startupNodes[0]!
    await run('redis-cli', ['--cluster', 'add-node', `127.0.0.1:${node.port}`, `127.0.0.1:${first.port}`])
    const toId = ((await new Redis(node.port).cluster('MYID')) as string).trim()
    // Once every node knows the new one, move 100 slots (and their keys) to it.
    for (const { port } of cluster.startupNodes) {
      const admin = new Redis(port)
      while (!((await admin.cluster('NODES')) as string).includes(toId)) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      admin.disconnect()
    }
    const fromId = ((await new Redis(first.port).cluster('MYID')) as string).trim()
    const reshard = [
      '--cluster',
      'reshard',
      `127.0.0.1:${first.port}`,
      '--cluster-from',
      fromId,
      '--cluster-to',
      toId,
      '--cluster-slots',
      '100',
      '--cluster-yes',
    ]
    // redis-cli refuses to reshard until every node agrees on the new one (gossip takes a moment).
    for (let attempt = 0; ; attempt++) {
      try {
        await run('redis-cli', reshard)
        break
      } catch (error) {
        if (attempt === 40 || !String(error).includes('fix your cluster problems')) throw error
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
    const served = (await raw.cluster('SLOTS')).filter(([, , master]) => master?.[1] === node.port)
    let key = ''
    for (let i = 0; !key; i++) {
      const slot = (await raw.cluster('KEYSLOT', `tc:moved:${i}`)) as number
      if (served.some(([from, to]) => slot >= from && slot <= to)) key = `moved:${i}`
    }
    // The caches learn the new layout on their next command there (MOVED), then track the new master.
    for (const cache of caches) await cache.set(key, 'v')
    expect(await masterOf(`tc:${key}`)).toBe(node.port)
    const started = Date.now()
    while (Date.now() - started < 10_000) {
      const health = await Promise.all(caches.map((cache) => cache.health()))
      if (health.every((h) => h.invalidation?.tracking === 'on')) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await cacheEverywhere(caches, key)
    await raw.set(`tc:${key}`, 'written on the new master')
    expect(await msUntilDropped(caches, key)).toBeLessThan(await dropBoundMs())
  }, 60_000)
})
