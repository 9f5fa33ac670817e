import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../../cachet/test/helpers/redis-server.js'
import type { RunningServer } from '../src/start.js'
import { ADMIN_HEADERS, startTestServer } from './start-test-server.js'

// Small tables: the data is not under test here.
const SMALL = { CACHET_DEMO_ROWS: '1000', CACHET_DEMO_ORDER_ITEMS: '1000' }

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    value = await read()
  }
  return value
}

describe('demo: product view counters written behind to the database', () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startTestServer(SMALL)
  }, 120_000)
  afterAll(async () => {
    await server?.stop()
  })

  const request = (method: 'GET' | 'POST', url: string) => server.app.inject({ method, url })
  const rows = () =>
    server.resources.db.query<{ views: number }>(
      'SELECT views::int AS views FROM product_views WHERE product_id = 5',
    )

  it('counts a view at once through the cache, and the database gets it in a batch', async () => {
    expect((await request('GET', '/api/products/5/views')).json()).toMatchObject({ productId: 5, views: 0 })
    for (let i = 0; i < 3; i++) {
      const view = await request('POST', '/api/products/5/view')
      expect(view.statusCode).toBe(202)
      expect(view.json().journaled).toMatch(/^\d+-\d+$/)
    }
    expect((await request('GET', '/api/products/5/views')).json()).toMatchObject({ views: 3 })
    expect(await eventually(rows, (found) => found[0]?.views === 3)).toEqual([{ views: 3 }])
    const after = (await request('GET', '/api/products/5/views')).json()
    expect(after.views).toBe(3)
    expect(Date.parse(after.lastSeen)).toBeGreaterThan(Date.now() - 60_000)
  })

  it('reports the journal and its backlog in health and /metrics', async () => {
    const health = (await request('GET', '/api/products/views/health')).json()
    expect(health).toMatchObject({ journal: { aof: true, maxmemoryPolicy: 'noeviction' } })
    const metrics = await server.app.inject({ method: 'GET', url: '/metrics', headers: ADMIN_HEADERS })
    expect(metrics.body).toMatch(/cachet_write_behind_backlog \d+/)
  })

  it("shows the write-behind to the admin API, for the dashboard's card", async () => {
    const response = await server.app.inject({
      method: 'GET',
      url: '/api/cache/write-behind',
      headers: ADMIN_HEADERS,
    })
    expect(response.statusCode).toBe(200)
    const [views] = response.json().data.writeBehinds
    expect(views).toMatchObject({
      name: 'product views',
      backlog: expect.any(Number),
      journal: { aof: true, maxmemoryPolicy: 'noeviction' },
    })
    // The views of the first test reached the database through this write-behind.
    expect(views.flushed).toBeGreaterThanOrEqual(3)
  })

  it('answers 400 for a bad product id, never 500', async () => {
    for (const id of ['abc', '0', '99999999999', '2001', '-1']) {
      const response = await request('POST', `/api/products/${id}/view`)
      expect(response.statusCode).toBe(400)
      expect(response.json().error).toBe('E_BAD_REQUEST')
    }
  })
})

describe('demo: product view counters without a durable Redis', () => {
  let redis: TestRedis
  let server: RunningServer
  beforeAll(async () => {
    redis = await startRedis()
    server = await startTestServer({ ...SMALL, REDIS_URL: redis.url })
  }, 120_000)
  afterAll(async () => {
    await server?.stop()
    await redis?.stop()
  })

  it('refuses to journal on a Redis without an append-only file: 503, not an unsafe write', async () => {
    expect(server.resources.productViews).toBeUndefined()
    const admin = await server.app.inject({
      method: 'GET',
      url: '/api/cache/write-behind',
      headers: ADMIN_HEADERS,
    })
    expect(admin.json().data.writeBehinds).toEqual([])
    const response = await server.app.inject({ method: 'POST', url: '/api/products/5/view' })
    expect(response.statusCode).toBe(503)
    expect(response.json().message).toMatch(/durable Redis/)
  })
})
