import type { InjectOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../../cachet/test/helpers/redis-server.js'
import type { RunningServer } from '../src/start.js'
import { ADMIN_HEADERS, serverTiming, startTestServer, userHeaders } from './start-test-server.js'

let redis: TestRedis
let server: RunningServer

beforeAll(async () => {
  redis = await startRedis()
  server = await startTestServer({ REDIS_URL: redis.url })
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await redis?.stop()
})

interface RevenueRow {
  day: string
  category: string
  unique_customers: number
  order_count: number
  revenue: number
}

const get = (url: string) => server.app.inject({ method: 'GET', url })
const postOrder = (payload: InjectOptions['payload'], headers: Record<string, string> = ADMIN_HEADERS) =>
  server.app.inject({ method: 'POST', url: '/api/orders', payload, headers })
const sql = <T>(text: string, params?: unknown[]) => server.resources.db.query<T>(text, params)

describe('seed 003: GET /api/dashboard/revenue', () => {
  it('is a slow MISS, then a HIT at least 10 times faster with the same rows', async () => {
    const miss = await get('/api/dashboard/revenue?period=30d')
    expect(miss.statusCode).toBe(200)
    expect(miss.headers['x-cache']).toBe('MISS')
    // Seed 003 §3.2's headers.
    expect(miss.headers['x-cache-status']).toBe('MISS')
    expect(miss.headers['cache-control']).toBe('max-age=300')
    expect(miss.headers['x-cache-key']).toMatch(/^cache:query:[0-9a-f]{32}$/)
    const body = miss.json()
    expect(body).toMatchObject({ period: '30d', days: 30 })
    // 30 days × 8 categories.
    expect(body.count).toBeGreaterThanOrEqual(200)
    expect(body.rows[0]).toEqual({
      day: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      category: expect.any(String),
      unique_customers: expect.any(Number),
      order_count: expect.any(Number),
      revenue: expect.any(Number),
      avg_order_value: expect.any(Number),
      p95_order_value: expect.any(Number),
    })
    const missMs = serverTiming(miss.headers['server-timing'])
    // About 200 ms here; 100 ms is a safe floor.
    expect(missMs).toBeGreaterThan(100)

    // The fastest of five HITs, so one GC pause cannot fail the ratio.
    const hits = []
    for (let i = 0; i < 5; i++) hits.push(await get('/api/dashboard/revenue?period=30d'))
    for (const hit of hits) {
      expect(hit.headers['x-cache']).toBe('HIT')
      expect(hit.headers['x-cache-status']).toBe('HIT')
      expect(hit.headers['cache-control']).toBe('max-age=300')
      expect(hit.json()).toEqual(body)
    }
    const hitMs = Math.min(...hits.map((hit) => serverTiming(hit.headers['server-timing'])))
    expect(missMs / hitMs).toBeGreaterThanOrEqual(10)
  })

  it('defaults to 30d and caches each period under its own key', async () => {
    const byDefault = await get('/api/dashboard/revenue')
    expect(byDefault.json().period).toBe('30d')
    const week = await get('/api/dashboard/revenue?period=7d')
    expect(week.statusCode).toBe(200)
    expect(week.headers['x-cache-key']).not.toBe(byDefault.headers['x-cache-key'])
    expect(week.json().count).toBeLessThan(byDefault.json().count)
  })

  it('refuses a bad period or an unknown parameter with 400 naming it', async () => {
    for (const [query, message] of [
      ['period=5d', /^period: must be one of 7d, 30d, 90d/],
      ['period=', /^period: /],
      ['period=30d&period=7d', /^period: /],
      ['period=30d&limit=5', /limit/],
    ] as const) {
      const response = await get(`/api/dashboard/revenue?${query}`)
      expect(response.statusCode, query).toBe(400)
      expect(response.json().message, query).toMatch(message)
    }
  })
})

describe('POST /api/orders', () => {
  it('writes the order in a transaction, and the next revenue call recomputes and reflects it', async () => {
    const [customer] = await sql<{ id: number }>(
      `SELECT id FROM customers WHERE country = 'US' ORDER BY id LIMIT 1`,
    )
    const [product] = await sql<{ id: number; category: string; price: number }>(
      'SELECT id, category, price::float8 AS price FROM products WHERE id = 42',
    )
    const [{ today }] = (await sql<{ today: string }>(
      `SELECT to_char(DATE_TRUNC('day', now()), 'YYYY-MM-DD') AS today`,
    )) as [{ today: string }]
    const todayRow = (rows: RevenueRow[]) =>
      rows.find((row) => row.day === today && row.category === product!.category) ?? {
        order_count: 0,
        revenue: 0,
      }

    await get('/api/dashboard/revenue?period=7d')
    const before = await get('/api/dashboard/revenue?period=7d')
    expect(before.headers['x-cache']).toBe('HIT')

    const created = await postOrder({ customerId: customer!.id, items: [{ productId: 42, quantity: 7 }] })
    expect(created.statusCode).toBe(201)
    const order = created.json()
    expect(order).toMatchObject({
      customerId: customer!.id,
      status: 'completed',
      items: [{ productId: 42, quantity: 7, unitPrice: product!.price }],
    })
    expect(order.total).toBeCloseTo(7 * product!.price, 2)
    const stored = await sql('SELECT product_id, quantity FROM order_items WHERE order_id = $1', [order.id])
    expect(stored).toEqual([{ product_id: 42, quantity: 7 }])

    const after = await get('/api/dashboard/revenue?period=7d')
    expect(after.headers['x-cache']).toBe('MISS')
    const was = todayRow(before.json().rows)
    const now = todayRow(after.json().rows)
    expect(now.order_count).toBe(was.order_count + 1)
    expect(now.revenue).toBeCloseTo(was.revenue + 7 * product!.price, 2)
  })

  it('refuses unknown customers and products with 400 and neither writes nor invalidates anything', async () => {
    await get('/api/dashboard/revenue?period=90d')
    const [{ n: ordersBefore }] = (await sql<{ n: number }>('SELECT count(*)::int AS n FROM orders')) as [
      { n: number },
    ]
    const unknownCustomer = await postOrder({ customerId: 999_999, items: [{ productId: 1, quantity: 1 }] })
    expect(unknownCustomer.statusCode).toBe(400)
    expect(unknownCustomer.json().message).toBe('customerId: customer 999999 does not exist')
    const unknownProduct = await postOrder({
      customerId: 1,
      items: [
        { productId: 1, quantity: 1 },
        { productId: 888_888, quantity: 1 },
      ],
    })
    expect(unknownProduct.statusCode).toBe(400)
    expect(unknownProduct.json().message).toBe('items.1.productId: product 888888 does not exist')

    const [{ n: ordersAfter }] = (await sql<{ n: number }>('SELECT count(*)::int AS n FROM orders')) as [
      { n: number },
    ]
    expect(ordersAfter).toBe(ordersBefore)
    expect((await get('/api/dashboard/revenue?period=90d')).headers['x-cache']).toBe('HIT')
  })

  it('refuses bad bodies with 400 naming the field', async () => {
    const cases: Array<[InjectOptions['payload'], RegExp]> = [
      [undefined, /body must be a JSON object/],
      [[1, 2], /body must be a JSON object/],
      [{ items: [{ productId: 1, quantity: 1 }] }, /^customerId: /],
      [{ customerId: '1', items: [{ productId: 1, quantity: 1 }] }, /^customerId: must be a number/],
      [{ customerId: -3, items: [{ productId: 1, quantity: 1 }] }, /^customerId: must be positive/],
      [{ customerId: 2 ** 40, items: [{ productId: 1, quantity: 1 }] }, /^customerId: is too large/],
      [{ customerId: 1 }, /^items: /],
      [{ customerId: 1, items: [] }, /^items: must hold at least one item/],
      [{ customerId: 1, items: [{ productId: 1, quantity: 0 }] }, /^items\.0\.quantity: must be at least 1/],
      [
        { customerId: 1, items: [{ productId: 1.5, quantity: 1 }] },
        /^items\.0\.productId: must be an integer/,
      ],
      [{ customerId: 1, items: [{ productId: 1 }] }, /^items\.0\.quantity: /],
      [{ customerId: 1, items: [{ productId: 1, quantity: 1, price: 0 }] }, /price/],
      [
        { customerId: 1, items: Array.from({ length: 51 }, () => ({ productId: 1, quantity: 1 })) },
        /^items: must hold at most 50 items/,
      ],
    ]
    for (const [payload, message] of cases) {
      const response = await postOrder(payload)
      expect(response.statusCode, JSON.stringify(payload)).toBe(400)
      expect(response.json().message, JSON.stringify(payload)).toMatch(message)
    }
    const malformed = await server.app.inject({
      method: 'POST',
      url: '/api/orders',
      headers: { 'content-type': 'application/json', ...ADMIN_HEADERS },
      payload: '{"customerId":',
    })
    expect(malformed.statusCode).toBe(400)
  })
})

describe('POST /api/orders: who may order', () => {
  const order = { customerId: 3, items: [{ productId: 5, quantity: 1 }] }
  const ordersOf = async (customerId: number) =>
    (
      (await sql<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE customer_id = $1', [
        customerId,
      ])) as [{ n: number }]
    )[0].n

  it('refuses an anonymous or forged request (401) and another customer (403), writing nothing', async () => {
    const before = await ordersOf(3)
    const anonymous = await postOrder(order, {})
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.headers['www-authenticate']).toBe('Bearer')
    expect((await postOrder(order, { authorization: 'Bearer not-a-token' })).statusCode).toBe(401)
    // 401 comes before the body is even read: an anonymous caller learns nothing from validation.
    expect((await postOrder({ customerId: 'x' }, {})).statusCode).toBe(401)
    const other = await postOrder(order, await userHeaders(server, 4))
    expect(other.statusCode).toBe(403)
    expect(other.json().message).toMatch(/only user 3 or the admin/)
    expect(await ordersOf(3)).toBe(before)
  })

  it('takes an order from the customer themselves or from the admin', async () => {
    const before = await ordersOf(3)
    expect((await postOrder(order, await userHeaders(server, 3))).statusCode).toBe(201)
    expect((await postOrder(order, ADMIN_HEADERS)).statusCode).toBe(201)
    expect(await ordersOf(3)).toBe(before + 2)
  })
})

// Last: it kills this file's redis-server.
describe('with its redis-server killed', () => {
  it('still answers the revenue query and takes orders from the database', async () => {
    await redis.kill()
    const revenue = await get('/api/dashboard/revenue?period=30d')
    expect(revenue.statusCode).toBe(200)
    expect(revenue.json().count).toBeGreaterThan(0)
    const created = await postOrder({ customerId: 1, items: [{ productId: 1, quantity: 2 }] })
    expect(created.statusCode).toBe(201)
    const again = await get('/api/dashboard/revenue?period=7d')
    expect(again.statusCode).toBe(200)
  })
})
