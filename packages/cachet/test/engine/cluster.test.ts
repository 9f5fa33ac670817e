import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Cache, type CacheOptions, createCache } from '../../src/index.js'
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js'

let cluster: TestCluster
let a: Cache
let b: Cache
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  cluster = await startRedisCluster(3)
  const options: CacheOptions = {
    redis: { cluster: cluster.startupNodes },
    prefix: 'kc',
    logger: false as const,
    l2: { timeout: '1s' },
  }
  a = createCache(options)
  b = createCache(options)
  await a.set('warm', 1) // connects the cluster client (slots map)
  await b.set('warm', 1)
  await sleep(300) // bus subscribers ready
}, 60_000)

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()])
  await cluster?.stop()
})

describe('the engine on a Redis Cluster (3 masters)', () => {
  it('stampede protection holds across two instances (one loader call)', async () => {
    let calls = 0
    const loader = async () => {
      calls++
      await sleep(200)
      return 'report'
    }
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).getOrSet('report:cold', loader)),
    )
    expect(new Set(answers)).toEqual(new Set(['report']))
    expect(calls).toBe(1)
  })

  it('tags, batch reads, pattern deletes and clear reach keys on every master, without CROSSSLOT errors', async () => {
    const errors: string[] = []
    a.on('error', ({ operation, error }) => errors.push(`${operation}: ${error.message}`))
    const items = Array.from({ length: 200 }, (_, i) => ({ key: `item:${i}`, value: i, tags: ['items'] }))
    expect((await a.setMany(items)).every(Boolean)).toBe(true)
    expect(await b.getMany(items.map((item) => item.key))).toEqual(items.map((item) => item.value))
    expect(await a.invalidateTags(['items'])).toBe(200)
    await sleep(300) // b's L1 copies go when the bus message arrives (milliseconds; bounded by the L1 max ttl)
    expect((await b.getMany(items.map((item) => item.key))).every((value) => value === undefined)).toBe(true)

    await a.setMany(Array.from({ length: 100 }, (_, i) => ({ key: `page:${i}`, value: i })))
    expect(await a.countByPattern('page:*')).toMatchObject({ count: 100 })
    expect(await a.deleteByPattern('page:*')).toBe(100)
    await a.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `rest:${i}`, value: i })))
    expect(await a.clear()).toBeGreaterThanOrEqual(50)
    await sleep(300)
    expect(await b.get('rest:7')).toBeUndefined()
    expect(errors).toEqual([])
  })

  it('keeps L1 coherent between instances over the cluster bus', async () => {
    await a.set('shared', 'v1')
    expect(await b.get('shared')).toBe('v1')
    await a.set('shared', 'v2')
    await sleep(300)
    expect(await b.get('shared')).toBe('v2')
  })
})
