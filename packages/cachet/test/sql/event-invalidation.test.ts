import { PGlite } from '@electric-sql/pglite'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache } from '../../src/index.js'
import { createInvalidationStream, createQueryCache, type InvalidationStream } from '../../src/sql/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { counting } from './helpers/databases.js'

let redis: TestRedis
let client: Redis
let db: PGlite
const caches: CacheApi[] = []
const streams: InvalidationStream[] = []
beforeAll(async () => {
  redis = await startRedis()
  client = new Redis(redis.url)
  db = new PGlite()
  await db.waitReady
  await db.query('CREATE TABLE orders (id int PRIMARY KEY, total int)')
  await db.query('CREATE TABLE products (id int PRIMARY KEY, name text)')
  await db.query('INSERT INTO orders VALUES (1, 10)')
  await db.query("INSERT INTO products VALUES (7, 'pen')")
})
afterAll(async () => {
  await Promise.all(streams.map((stream) => stream.stop()))
  await Promise.all(caches.map((cache) => cache.close()))
  client?.disconnect()
  await db?.close()
  await redis?.stop()
})

let n = 0
function setup() {
  const cache = createCache({ redis: redis.url, prefix: `ev${n}`, logger: false })
  caches.push(cache)
  const counted = counting(db)
  const queries = createQueryCache({ cache, db: counted.db })
  return { cache, queries, calls: counted.calls, stream: `events${n++}` }
}

const events = {
  'order.created': ['table:orders', 'revenue'],
  'product.updated': (entry: Record<string, string>) => [`product:${entry.id}`],
}

function consumer(
  cache: CacheApi,
  stream: string,
  name: string,
  extra: Partial<Parameters<typeof createInvalidationStream>[0]> = {},
) {
  const invalidation = createInvalidationStream({
    cache,
    redis: client,
    stream,
    group: 'invalidation',
    consumer: name,
    events,
    blockMs: 50,
    ...extra,
  })
  streams.push(invalidation)
  return invalidation
}

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe('invalidation from a stream', () => {
  it('order.created reloads the queries on orders and revenue, not the others', async () => {
    const { cache, queries, calls, stream } = setup()
    const invalidation = consumer(cache, stream, 'a')
    await invalidation.start()
    const orders = 'SELECT * FROM orders ORDER BY id'
    const products = 'SELECT * FROM products ORDER BY id'
    const revenue = 'SELECT sum(total) AS revenue FROM orders WHERE total > 0'
    await queries.query(orders)
    await queries.query(products)
    await queries.query(revenue, [], { tags: ['revenue'] })
    await queries.query(orders)
    expect(calls).toHaveLength(3)

    await client.xadd(stream, '*', 'event', 'order.created', 'id', '42')
    await until(() => invalidation.stats().processed === 1)
    expect(invalidation.stats().invalidated).toBe(2)

    await queries.query(orders)
    await queries.query(products)
    expect(calls).toHaveLength(4)
    expect(calls[3]).toContain('FROM orders')

    // A function rule: product.updated → product:<id>, field `type` accepted too.
    const product = 'SELECT name FROM products WHERE id = $1'
    await queries.query(product, [7], { tags: ['product:7'] })
    await client.xadd(stream, '*', 'type', 'product.updated', 'id', '7')
    await until(() => invalidation.stats().processed === 2)
    await queries.query(product, [7], { tags: ['product:7'] })
    await queries.query(products)
    expect(calls).toHaveLength(6)

    const health = await invalidation.health()
    expect(health).toMatchObject({ running: true, lag: 0, pending: 0, deadLettered: 0 })
  })

  it("another consumer claims a crashed consumer's pending entries", async () => {
    const { cache, queries, calls, stream } = setup()
    await client.xgroup('CREATE', stream, 'invalidation', '$', 'MKSTREAM')
    await queries.query('SELECT * FROM orders')
    await client.xadd(stream, '*', 'event', 'order.created', 'id', '43')
    // The crashed consumer: read (so the entry is pending on it), never acked.
    const read = await client.xreadgroup(
      'GROUP',
      'invalidation',
      'crashed',
      'COUNT',
      10,
      'STREAMS',
      stream,
      '>',
    )
    expect(read).not.toBeNull()

    const survivor = consumer(cache, stream, 'survivor', { minIdleMs: 100 })
    await survivor.start()
    await until(() => survivor.stats().processed === 1)
    expect(survivor.stats().claimed).toBe(1)
    await queries.query('SELECT * FROM orders')
    expect(calls).toHaveLength(2)
    expect((await survivor.health()).pending).toBe(0)
  })

  it('dead-letters a malformed entry after maxDeliveries without blocking the next', async () => {
    const { cache, stream } = setup()
    const invalidation = consumer(cache, stream, 'a', { minIdleMs: 30, maxDeliveries: 3 })
    await invalidation.start()
    const bad = await client.xadd(stream, '*', 'payload', 'no event field')
    await client.xadd(stream, '*', 'event', 'order.created', 'id', '44')
    await client.xadd(stream, '*', 'event', 'user.signed-up', 'id', '5')
    await until(() => invalidation.stats().processed === 2)
    expect(invalidation.stats().ignored).toBe(1)

    await until(() => invalidation.stats().deadLettered === 1)
    const dead = await client.xrange(`${stream}:dead`, '-', '+')
    expect(dead).toHaveLength(1)
    const fields = dead[0]![1]
    expect(fields.slice(0, 2)).toEqual(['payload', 'no event field'])
    expect(fields).toContain(bad)
    expect(invalidation.stats().malformed).toBeGreaterThanOrEqual(3)
    expect((await invalidation.health()).pending).toBe(0)
  })

  it('stop() drains: every entry read is invalidated and acked', async () => {
    const { cache, stream } = setup()
    const invalidation = consumer(cache, stream, 'a', { batchSize: 5 })
    await invalidation.start()
    for (let i = 0; i < 50; i++) await client.xadd(stream, '*', 'event', 'order.created', 'id', String(i))
    await until(() => invalidation.stats().processed >= 1)
    await invalidation.stop()
    const stats = invalidation.stats()
    expect(stats.running).toBe(false)
    const health = await invalidation.health()
    expect(health.pending).toBe(0)
    expect(stats.processed + (health.lag ?? 0)).toBe(50)

    // Restarted, it picks up what was left.
    await invalidation.start()
    await until(() => invalidation.stats().processed === 50)
    await invalidation.stop()
  })
})
