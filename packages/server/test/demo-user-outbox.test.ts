import { Redis } from 'ioredis'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../../cachet/test/helpers/redis-server.js'
import type { RunningServer } from '../src/start.js'
import { OUTBOX_TABLE } from '../src/user-outbox.js'
import { PREWARM_CURSOR_KEY } from '../src/user-sync.js'
import { ADMIN_HEADERS, startTestServer } from './start-test-server.js'

// Seed 002, scenario 3: "PUT /123 → 1. UPDATE personnel… (PostgreSQL) → 2. UserCache.set()
// (HSET user:profile:123) → 3. XADD events:users {event: "updated"...}"; scenario 4: the
// SmartCachePrewarmer runs at start-up, in batches of 500.
let redis: TestRedis
let client: Redis
let server: RunningServer | undefined

// A small logs/orders seed keeps the start short; the 5,000 users are always generated.
const ENV = { CACHET_DEMO_ROWS: '1000', CACHET_DEMO_ORDER_ITEMS: '1000' }

beforeAll(async () => {
  redis = await startRedis()
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
}, 60_000)

afterAll(async () => {
  await server?.stop()
  client?.disconnect()
  await redis?.stop()
})

/** Polls `read` until `done` holds (at most `ms`), then returns the last value. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    value = await read()
  }
  return value
}

function startupJob(running: RunningServer) {
  const job = running.resources.warmers.jobs().find((candidate) => candidate.state().trigger === 'startup')
  if (!job) throw new Error('no start-up warm-up')
  return job
}

async function activeUsers(running: RunningServer): Promise<number> {
  const [row] = await running.resources.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM user_profiles WHERE last_active_at >= now() - interval '7 days'`,
  )
  return row!.n
}

describe('seed 002 scenario 4: the prewarmer at start-up', () => {
  it('runs in the background; stopped mid-way, the next server resumes at the cursor kept in Redis', async () => {
    const lines: Array<{ msg: string; cursor?: number }> = []
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })
    const first = await startTestServer({ REDIS_URL: redis.url, ...ENV }, { logger })
    server = first
    const job = startupJob(first)
    expect(job.state().modules).toEqual(['config', 'user-profiles'])
    // Stop the server as soon as the first batch of 500 is cached.
    await new Promise<void>((resolve) => {
      job.events.on('progress', (progress: { module: string; keys: number }) => {
        if (progress.module === 'user-profiles' && progress.keys > 0) resolve()
      })
    })
    // Meanwhile health shows the warm-up (warming, or degraded if a PING was slow on a busy machine).
    const health = (await first.app.inject({ method: 'GET', url: '/api/cache/health' })).json()
    expect(['warming', 'degraded']).toContain(health.status)
    expect(health.warmup).toMatchObject({ current: { module: 'user-profiles' } })
    expect(health.warmup.keysCreated).toBeGreaterThanOrEqual(500)
    expect(lines.find((line) => line.msg === 'user profiles prewarm: batch done')).toMatchObject({
      cursor: 1,
    })
    await first.stop()
    server = undefined
    const saved = await client.get(PREWARM_CURSOR_KEY)
    expect(saved).toMatch(/^[12]\/500$/)
    const cursor = Number(saved!.split('/')[0])

    // Entities warmed by the first server are dropped: a batch not skipped would be counted again.
    const keys = await client.keys('cache:__entity:user:profile:*')
    if (keys.length > 0) await client.del(...keys)
    const second = await startTestServer({ REDIS_URL: redis.url, ...ENV })
    server = second
    const done = await startupJob(second).done
    const profiles = done.results.find((result) => result.module === 'user-profiles')!
    expect(profiles.ok).toBe(true)
    expect(profiles.keys).toBe((await activeUsers(second)) - cursor * 500)
    expect(await client.exists(PREWARM_CURSOR_KEY)).toBe(0)
    expect((await second.app.inject({ method: 'GET', url: '/api/cache/health' })).json().status).not.toBe(
      'warming',
    )
  }, 120_000)
})

describe('seed 002 scenario 3: PUT /api/users/:id', () => {
  const put = (id: string, fullName: string) =>
    server!.app.inject({
      method: 'PUT',
      url: `/api/users/${id}`,
      payload: { fullName },
      headers: ADMIN_HEADERS,
    })
  const outboxRows = async () =>
    (await server!.resources.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${OUTBOX_TABLE}`))[0]!.n

  it('writes the database, then the cache, then the event; the outbox is left empty', async () => {
    const response = await put('123', 'Jean Dupont')
    expect(response.statusCode).toBe(200)
    const { user, event } = response.json()
    expect(user).toMatchObject({ id: '123', fullName: 'Jean Dupont' })
    // Step 2, UserCache.set(): the hash holds the new profile as soon as the route answers.
    expect(await client.hget('cache:__entity:user:profile:123', 'fullName')).toBe('Jean Dupont')
    // Step 3. On a machine loaded enough that the XADD misses its 1 s deadline, the answer says queued
    // and the outbox drain publishes it within a second or two: either way the entry is there.
    const entries = await eventually(
      () => client.xrange('events:users', event?.id ?? '-', event?.id ?? '+'),
      (list) => list.some(([, fields]) => fields.includes('123')),
    )
    const entry = entries.find(([, fields]) => fields.includes('123'))
    expect(entry![1]).toEqual(expect.arrayContaining(['type', 'user.profile.updated', 'id', '123']))
    expect(await eventually(outboxRows, (n) => n === 0)).toBe(0)
    // An unknown user: the transaction wrote nothing, not even an outbox row.
    expect((await put('999999', 'Nobody')).statusCode).toBe(404)
    expect(await outboxRows()).toBe(0)
  })

  it('with the redis-server down, the event waits in the outbox and arrives once Redis is back', async () => {
    await redis.kill()
    const response = await put('124', 'Awa Outbox')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({
      user: { id: '124', fullName: 'Awa Outbox' },
      event: null,
      queued: { outboxId: expect.any(String) },
    })
    expect(await outboxRows()).toBe(1)

    // Back, empty (no persistence): the stream, the group and the cache are gone.
    await redis.restart()
    const entries = await eventually(
      () => client.xrange('events:users', '-', '+').catch(() => []),
      (list) => list.some(([, fields]) => fields.includes('124')),
    )
    const published = entries.find(([, fields]) => fields.includes('124'))!
    const payload = JSON.parse(published[1][published[1].indexOf('payload') + 1]!)
    expect(payload).toMatchObject({ id: '124', fullName: 'Awa Outbox' })
    // The drain deletes the row once XADD has answered: a moment after the entry is visible.
    await expect.poll(() => outboxRows(), { timeout: 5_000 }).toBe(0)
    // The consumer applied it: nothing else wrote this hash since Redis came back empty.
    const cached = await eventually(
      () => client.hget('cache:__entity:user:profile:124', 'fullName').catch(() => null),
      (name) => name === 'Awa Outbox',
    )
    expect(cached).toBe('Awa Outbox')
  }, 60_000)
})
