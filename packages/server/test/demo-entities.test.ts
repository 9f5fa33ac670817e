import type { InjectOptions } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../../cachet/test/helpers/redis-server.js'
import type { RunningServer } from '../src/start.js'
import { findUser, findUsers } from '../src/user-profiles.js'
import { ADMIN_HEADERS, ADMIN_TOKEN, startTestServer, userHeaders } from './start-test-server.js'

let redis: TestRedis
let client: Redis
let server: RunningServer

beforeAll(async () => {
  redis = await startRedis()
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  // The last test kills redis-server; this client's reconnect errors are expected then.
  client.on('error', () => {})
  // The shop tables are not under test here: a small order table keeps the start short.
  server = await startTestServer({ REDIS_URL: redis.url, CACHET_DEMO_ORDER_ITEMS: '1000' })
  // The start-up warm-up caches the users active in the last 7 days; the ids these tests expect to
  // miss (10, 11, 12, 14, 42, 77…) are not among them.
  await Promise.all(server.resources.warmers.jobs().map((job) => job.done))
}, 60_000)

afterAll(async () => {
  await server?.stop()
  client?.disconnect()
  await redis?.stop()
})

const get = (url: string) => server.app.inject({ method: 'GET', url })
const put = (
  id: string,
  payload: InjectOptions['payload'],
  headers: Record<string, string> = ADMIN_HEADERS,
) => server.app.inject({ method: 'PUT', url: `/api/users/${id}`, payload, headers })
const db = () => server.resources.db

/** Polls `read` until `done` holds (at most `ms`), then returns the last value. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    value = await read()
  }
  return value
}

describe('seed 002: GET /api/users/:id', () => {
  it('is a MISS loaded from the database, stored as a hash, then a HIT with the same profile', async () => {
    const miss = await get('/api/users/42')
    expect(miss.statusCode).toBe(200)
    expect(miss.headers['x-cache']).toBe('MISS')
    expect(miss.json()).toEqual(await findUser(db(), '42'))
    expect(miss.json()).toMatchObject({ id: '42', matricule: 'MAT00042' })

    await server.resources.userSync!.users.settle()
    const hash = await client.hgetall('cache:__entity:user:profile:42')
    expect(hash.fullName).toBe(miss.json().fullName)
    expect(Number(hash.__v)).toBe(miss.json().updatedAt)

    const hit = await get('/api/users/42')
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(hit.json()).toEqual(miss.json())
  })

  it('answers 404 for an unknown user and 400 for a bad id', async () => {
    const unknown = await get('/api/users/999999')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().message).toBe('user 999999 does not exist')
    for (const id of ['abc', '0', '-1', '1.5', '007', '2147483648', '99999999999', '%20']) {
      const response = await get(`/api/users/${id}`)
      expect(response.statusCode, id).toBe(400)
      expect(response.json().message, id).toMatch(/^id: /)
    }
  })
})

describe('GET /api/users/batch', () => {
  it('mixes cached and uncached users in one call, in the order asked, and lists the missing', async () => {
    await get('/api/users/10')
    await get('/api/users/12')
    await server.resources.userSync!.users.settle()

    const first = await get('/api/users/batch?ids=12,11,999999,10,14,11')
    expect(first.statusCode).toBe(200)
    // 11, 14 and 999999 came from the database; 10 and 12 from the cache. The duplicate 11 is asked once.
    expect(first.headers['x-cache']).toBe('MISS')
    expect(first.headers['x-cache-loaded']).toBe('3')
    const body = first.json()
    expect(body.users.map((user: { id: string }) => user.id)).toEqual(['12', '11', '10', '14'])
    expect(body.missing).toEqual(['999999'])
    const fromDb = new Map((await findUsers(db(), ['10', '11', '12', '14'])).map((u) => [u.id, u]))
    expect(body.users).toEqual(['12', '11', '10', '14'].map((id) => fromDb.get(id)))

    await server.resources.userSync!.users.settle()
    const second = await get('/api/users/batch?ids=14,12,11,10')
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.headers['x-cache-loaded']).toBe('0')
    expect(second.json().users).toEqual(['14', '12', '11', '10'].map((id) => fromDb.get(id)))
  })

  it('refuses bad lists with 400 naming the field', async () => {
    const hundredAndOne = Array.from({ length: 101 }, (_, i) => i + 1).join(',')
    for (const [query, message] of [
      ['', /^ids: must be one comma-separated list/],
      ['ids=', /^ids\.0: must be a positive integer/],
      ['ids=1,,2', /^ids\.1: must be a positive integer/],
      ['ids=1,abc', /^ids\.1: must be a positive integer/],
      ['ids=1&ids=2', /^ids: must be one comma-separated list/],
      [`ids=${hundredAndOne}`, /^ids: must hold at most 100 ids/],
      ['ids=1&extra=2', /extra/],
    ] as const) {
      const response = await get(`/api/users/batch?${query}`)
      expect(response.statusCode, query).toBe(400)
      expect(response.json().message, query).toMatch(message)
    }
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1).join(',')
    expect((await get(`/api/users/batch?ids=${hundred}`)).json().users).toHaveLength(100)
  })
})

describe('PUT /api/users/:id', () => {
  it('reaches the cached profile through the events:users stream (seed 002 scenario 3)', async () => {
    await get('/api/users/77')
    await server.resources.userSync!.users.settle()
    expect((await get('/api/users/77')).headers['x-cache']).toBe('HIT')
    const appliedBefore = server.resources.userSync!.consumer.stats().applied

    const response = await put(
      '77',
      { fullName: 'Ada Lovelace', avatar: null },
      await userHeaders(server, 77),
    )
    expect(response.statusCode).toBe(200)
    const { user, event } = response.json()
    expect(user).toMatchObject({ id: '77', fullName: 'Ada Lovelace', avatar: null, matricule: 'MAT00077' })
    expect(event).toEqual({ stream: 'events:users', id: expect.stringMatching(/^\d+-\d+$/) })
    const [entry] = await client.xrange('events:users', event.id, event.id)
    expect(entry![1]).toEqual(expect.arrayContaining(['type', 'user.profile.updated', 'id', '77']))

    // Scenario 3 step 2: the route set the cached copy before publishing; the consumer then applies
    // the event (same version: a rewrite, not a stale no-op).
    const read = await get('/api/users/77')
    expect(read.json()).toEqual(user)
    // Updated in place, not dropped and reloaded from the database.
    expect(read.headers['x-cache']).toBe('HIT')
    await eventually(
      async () => server.resources.userSync!.consumer.stats().applied,
      (applied) => applied > appliedBefore,
    )
    expect(server.resources.userSync!.consumer.stats().stale).toBe(0)
    expect(await findUser(db(), '77')).toEqual(user)
  })

  it('needs the demo token of that very user (403 for another) or the admin token (401 without)', async () => {
    const before = await findUser(db(), '7')
    const anonymous = await put('7', { fullName: 'Mallory' }, {})
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.headers['www-authenticate']).toBe('Bearer')
    expect(
      (await put('7', { fullName: 'Mallory' }, { authorization: 'Bearer forged.jwt.value' })).statusCode,
    ).toBe(401)
    const other = await put('7', { fullName: 'Mallory' }, await userHeaders(server, 8))
    expect(other.statusCode).toBe(403)
    expect(other.json().message).toMatch(/only user 7 or the admin/)
    expect(await findUser(db(), '7')).toEqual(before)

    expect((await put('7', { fullName: 'Grace Hopper' }, await userHeaders(server, 7))).statusCode).toBe(200)
    expect((await put('7', { fullName: 'Grace B. Hopper' }, ADMIN_HEADERS)).statusCode).toBe(200)
    expect((await findUser(db(), '7'))?.fullName).toBe('Grace B. Hopper')
  })

  it('answers 404 for an unknown user and 400 for bad ids and bodies', async () => {
    expect((await put('999999', { fullName: 'Nobody' })).statusCode).toBe(404)
    expect((await put('abc', { fullName: 'X' })).json().message).toMatch(/^id: /)
    for (const [payload, message] of [
      [{}, /must change fullName, avatar or ministere/],
      [undefined, /body must be a JSON object/],
      [{ fullName: '' }, /^fullName: must not be empty/],
      [{ fullName: '   ' }, /^fullName: must not be empty/],
      [{ fullName: 'x'.repeat(101) }, /^fullName: must be at most 100 characters/],
      [{ fullName: 42 }, /^fullName: must be a string/],
      [{ avatar: 'javascript:alert(1)' }, /^avatar: must be an http\(s\) URL or null/],
      [{ matricule: 'MAT1' }, /matricule/],
      [{ id: '5' }, /"id"/],
    ] as const) {
      const response = await put('5', payload)
      expect(response.statusCode, JSON.stringify(payload)).toBe(400)
      expect(response.json().message, JSON.stringify(payload)).toMatch(message)
    }
  })
})

describe('an HTTP cache invalidation of type user (cache:user:*)', () => {
  it('leaves the entity hashes alone: profiles still hit, and a stream update is still applied', async () => {
    await get('/api/users/55')
    await server.resources.userSync!.users.settle()
    const invalidated = await server.app.inject({
      method: 'POST',
      url: '/api/cache/invalidate/user',
      headers: ADMIN_HEADERS,
    })
    expect(invalidated.statusCode).toBe(200)
    expect(await client.type('cache:__entity:user:profile:55')).toBe('hash')
    expect((await get('/api/users/55')).headers['x-cache']).toBe('HIT')

    const consumer = server.resources.userSync!.consumer
    const appliedBefore = consumer.stats().applied
    expect(
      (await put('55', { fullName: 'Katherine Johnson' }, await userHeaders(server, 55))).statusCode,
    ).toBe(200)
    const read = await eventually(
      () => get('/api/users/55'),
      (r) => r.json().fullName === 'Katherine Johnson',
    )
    expect(read.headers['x-cache']).toBe('HIT')
    expect(consumer.stats().applied).toBe(appliedBefore + 1)
    expect(consumer.stats().stale).toBe(0)
  })
})

describe('warm-up module user-profiles', () => {
  it('prewarms the profiles of users active in the last 7 days', async () => {
    const [active] = await db().query<{ ids: string[] }>(
      `SELECT array_agg(id::text ORDER BY id) AS ids FROM user_profiles
       WHERE last_active_at >= now() - interval '7 days'`,
    )
    const ids = active!.ids
    expect(ids.length).toBeGreaterThan(500)

    const response = await server.app.inject({
      method: 'POST',
      url: '/api/cache/warmup',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      payload: { modules: ['user-profiles'] },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().stats).toMatchObject({ modulesWarmed: ['user-profiles'], keysCreated: ids.length })
    const exists = await client.exists(...ids.map((id) => `cache:__entity:user:profile:${id}`))
    expect(exists).toBe(ids.length)
    expect((await get(`/api/users/${ids.at(-1)}`)).headers['x-cache']).toBe('HIT')
  })
})

// Last: it kills this file's redis-server.
describe('with its redis-server killed', () => {
  it('still answers the user routes from the database', async () => {
    await redis.kill()
    const one = await get('/api/users/42')
    expect(one.statusCode).toBe(200)
    expect(one.json()).toEqual(await findUser(db(), '42'))
    const batch = await get('/api/users/batch?ids=3,2,1')
    expect(batch.statusCode).toBe(200)
    expect(batch.json().users.map((user: { id: string }) => user.id)).toEqual(['3', '2', '1'])
    expect((await get('/api/users/999999')).statusCode).toBe(404)

    const updated = await put('42', { ministere: 'MINTP' })
    expect(updated.statusCode).toBe(200)
    expect(updated.json().user.ministere).toBe('MINTP')
    expect(updated.json().event).toBeNull()
    expect((await get('/api/users/42')).json().ministere).toBe('MINTP')
  })
})
