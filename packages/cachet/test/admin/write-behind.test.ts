import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminPlugin } from '../../src/admin/index.js'
import { createWriteBehind, type FlushItem, type WriteBehind } from '../../src/write/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { ADMIN, type AdminHarness, startAdmin } from './setup.js'

const READ_TOKEN = 'write-behind-read-token-0123456789'
const READ = { authorization: `Bearer ${READ_TOKEN}` }
const DURABLE = ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function list(h: AdminHarness, headers: Record<string, string> = ADMIN) {
  const response = await h.app.inject({ url: '/api/cache/write-behind', headers })
  expect(response.statusCode, response.body).toBe(200)
  return response.json().data.writeBehinds as Array<Record<string, unknown>>
}

describe('GET /write-behind without a write-behind', () => {
  let h: AdminHarness
  beforeAll(async () => {
    h = await startAdmin()
  })
  afterAll(async () => h.close())

  it('answers an empty list', async () => {
    expect(await list(h)).toEqual([])
  })
})

describe('GET /write-behind with a real write-behind on a durable journal Redis', () => {
  let journalRedis: TestRedis
  let journal: Redis
  let h: AdminHarness
  let writeBehind: WriteBehind<{ views: number }>
  let release: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const flushed: FlushItem<{ views: number }>[] = []

  beforeAll(async () => {
    journalRedis = await startRedis(DURABLE)
    journal = new Redis(journalRedis.url)
    h = await startAdmin({
      readTokens: [READ_TOKEN],
      writeBehind: {
        'product views': {
          // Resolved lazily: the write-behind needs the harness' cache, made by startAdmin.
          health: () => writeBehind.health(),
        },
        broken: {
          health: () => Promise.reject(new Error('boom\nsecond line')),
        },
      },
    })
    writeBehind = await createWriteBehind<{ views: number }>({
      cache: h.cache,
      journal,
      stream: 'admin-test:views',
      interval: '50ms',
      merge: (a, b) => ({ views: a.views + b.views }),
      flush: async (batch) => {
        await gate
        flushed.push(...batch)
      },
    })
  })
  afterAll(async () => {
    release()
    await writeBehind?.stop()
    await h?.close()
    journal?.disconnect()
    await journalRedis?.stop()
  })

  it('shows the backlog while the database has not taken it, then the flushed entries', async () => {
    for (let i = 0; i < 30; i++) await writeBehind.write(`product:${i % 3}`, { views: 1 })
    await sleep(300)
    const [views, broken] = await list(h)
    expect(views).toMatchObject({
      name: 'product views',
      status: 'healthy',
      backlog: 30,
      flushed: 0,
      failures: 0,
      deadLettered: 0,
      journal: { aof: true, appendfsync: 'everysec', maxmemoryPolicy: 'noeviction' },
      reasons: [],
    })
    expect(views!.backlogAgeMs).toBeGreaterThanOrEqual(250)
    // A health() that throws is one unhealthy row with unknown figures, not a failed answer.
    expect(broken).toMatchObject({
      name: 'broken',
      status: 'unhealthy',
      backlog: null,
      flushed: null,
      reasons: ['health() failed: boom\\x0asecond line'],
    })

    release()
    await expect.poll(() => flushed.length, { timeout: 5000 }).toBe(3)
    // Figures are reused for a second: poll until a fresh read shows the flush.
    await expect
      .poll(async () => (await list(h, READ))[0], { timeout: 10_000, interval: 250 })
      .toMatchObject({ backlog: 0, backlogAgeMs: 0, flushed: 30, failures: 0 })
    const [after] = await list(h, READ)
    expect(after!.flushRate).toBeGreaterThan(0)
  })

  it('needs a credential; a read-only token is enough', async () => {
    const anonymous = await h.app.inject({ url: '/api/cache/write-behind' })
    expect(anonymous.statusCode).toBe(401)
    expect((await list(h, READ)).map((wb) => wb.name)).toEqual(['product views', 'broken'])
  })

  it('names a write-behind passed alone "write-behind", and refuses one without health()', async () => {
    const single = await startAdmin({ writeBehind: { health: () => writeBehind.health() } })
    try {
      expect((await list(single)).map((wb) => wb.name)).toEqual(['write-behind'])
    } finally {
      await single.close()
    }
    const Fastify = (await import('fastify')).default
    const app = Fastify({ logger: false })
    await expect(
      app
        .register(adminPlugin, {
          cache: h.cache,
          tokens: ['a-token-of-sixteen-chars'],
          writeBehind: { views: {} as never },
        })
        .ready(),
    ).rejects.toThrow('writeBehind.views has no health() method')
    await app.close()
  })
})
