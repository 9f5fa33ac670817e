import type { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { tierContract } from '../../../src/testing/index.js'
import { connectRedis, type RedisConnection } from '../../../src/tiers/redis/client.js'
import { L2Guard } from '../../../src/tiers/redis/guard.js'
import { RedisTier } from '../../../src/tiers/redis/redis-tier.js'
import { startRedisCluster, type TestCluster } from '../../helpers/redis-cluster.js'
import { startRedis, type TestRedis } from '../../helpers/redis-server.js'

// A generous deadline: the contract checks semantics, not timing, on a shared machine.
const TIMEOUT_MS = 2_000
const guard = () => new L2Guard({ timeoutMs: TIMEOUT_MS, breaker: false })

let redis: TestRedis
let single: RedisConnection
let cluster: TestCluster
let clustered: RedisConnection

beforeAll(async () => {
  ;[redis, cluster] = await Promise.all([startRedis(), startRedisCluster(3)])
  single = connectRedis(redis.url, { timeoutMs: TIMEOUT_MS })
  clustered = connectRedis({ cluster: cluster.startupNodes }, { timeoutMs: TIMEOUT_MS })
  await new Promise<void>((resolve) => (clustered.client as Cluster).once('ready', () => resolve()))
})

afterAll(async () => {
  await Promise.all([single?.close(), clustered?.close()])
  await Promise.all([redis?.stop(), cluster?.stop()])
})

tierContract({
  name: 'RedisTier on one redis-server',
  describe,
  it,
  createTier: (prefix) => new RedisTier(single, guard(), { prefix }),
})

tierContract({
  name: 'RedisTier on a 3-master Cluster',
  describe,
  it,
  createTier: (prefix) => new RedisTier(clustered, guard(), { prefix }),
})
