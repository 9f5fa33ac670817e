import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  createEntityCache,
  createStreamConsumer,
  type EntityCache,
  publishEntityEvent,
  type StreamConsumer,
} from '../../src/entities/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { waitFor } from './fixtures.js'

// Seed 002: "Redis Hash: user:profile:{userId}", its fields, and scenario 3's `XADD events:users
// {event: "updated"...}` that the seed's UserStreamConsumer reads ("user.profile.updated → Sync cache").
const STREAM = 'events:users'
const SEED_HASH = {
  fullName: 'Jean Dupont',
  avatar: 'https://cdn.example.com/avatars/123.png',
  matricule: 'MAT001',
  ministere: 'MINFOP',
  updatedAt: '1736862000000',
}

let server: TestRedis
let redis: Redis
let seedCache: EntityCache<Record<string, unknown>>
const running: StreamConsumer[] = []

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
  // The seed's names: no prefix.
  seedCache = createEntityCache<Record<string, unknown>>({ redis: server.url, prefix: '', timeout: '1s' })
})

afterAll(async () => {
  await seedCache.close()
  redis.disconnect()
  await server.stop()
})

beforeEach(async () => {
  await redis.flushdb()
})

afterEach(async () => {
  await Promise.all(running.splice(0).map((consumer) => consumer.stop()))
})

function consumer(): StreamConsumer {
  const created = createStreamConsumer({
    redis: server.url,
    stream: STREAM,
    group: 'chat-file-service',
    consumer: 'chat-file-1',
    entityCache: seedCache,
    block: '100ms',
    checkInterval: '200ms',
    startId: '0',
  })
  running.push(created)
  return created
}

describe("seed 002's keys: prefix ''", () => {
  it('reads the hash the seed wrote with HSET user:profile:123, as is', async () => {
    await redis.hset('user:profile:123', SEED_HASH)
    expect(seedCache.keyOf('123')).toBe('user:profile:123')
    expect(await seedCache.get('123')).toEqual({ ...SEED_HASH, updatedAt: 1736862000000 })
    expect(await seedCache.getFields('123', ['fullName', 'ministere'])).toEqual({
      fullName: 'Jean Dupont',
      ministere: 'MINFOP',
    })
    const batch = await seedCache.batchGet(['123', '404'])
    expect([...batch.keys()]).toEqual(['123'])
    expect(seedCache.stats()).toMatchObject({ hits: 3, misses: 1, errors: 0 })
  })

  it("writes strings the way the seed's readers expect them (no JSON quotes) under the seed's key", async () => {
    await seedCache.set({ id: '7', fullName: 'Awa Mbarga', matricule: 'MAT007', updatedAt: 1736862000001 })
    const hash = await redis.hgetall('user:profile:7')
    expect(hash).toMatchObject({ fullName: 'Awa Mbarga', matricule: 'MAT007', updatedAt: '1736862000001' })
    expect(await redis.pttl('user:profile:7')).toBeGreaterThan(7 * 86_400_000 - 60_000)
  })

  it('clear() removes the seed namespace only', async () => {
    await redis.hset('user:profile:1', SEED_HASH)
    await redis.hset('user:profile:2', SEED_HASH)
    await redis.set('user:other', 'kept')
    expect(await seedCache.clear()).toBe(2)
    expect(await redis.get('user:other')).toBe('kept')
  })
})

describe('a hit returns what the miss returned', () => {
  interface Account {
    id: string
    joinedAt: Date
    balance: bigint
    roles: Set<string>
    limits: Map<string, number>
    note: string
    code: string
    tags: string[]
  }
  const account = (id: string): Account => ({
    id,
    joinedAt: new Date('2025-01-14T13:40:00.000Z'),
    balance: 9_007_199_254_740_993n,
    roles: new Set(['admin', 'reader']),
    limits: new Map([['uploads', 10]]),
    // Strings that look like JSON must come back as strings.
    note: '1736862000000',
    code: 'true',
    tags: ['a', 'b'],
  })

  it('Date, BigInt, Set and Map survive miss → hit without a schema', async () => {
    const source = new Map([['42', account('42')]])
    const cache = createEntityCache<Account>({
      redis: server.url,
      entity: 'account',
      fetchOne: async (id) => source.get(id) ?? null,
    })
    const miss = await cache.get('42')
    await cache.settle()
    const hit = await cache.get('42')
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, fallbacks: 1, errors: 0 })
    expect(hit).toEqual(miss)
    expect(hit?.joinedAt).toBeInstanceOf(Date)
    expect(typeof hit?.balance).toBe('bigint')
    expect(hit?.balance).toBe(9_007_199_254_740_993n)
    expect(hit?.note).toBe('1736862000000')
    expect(hit?.code).toBe('true')
    expect(await cache.getFields('42', ['joinedAt', 'balance'])).toEqual({
      joinedAt: miss!.joinedAt,
      balance: miss!.balance,
    })
    const batch = await cache.batchGet(['42'])
    expect(batch.get('42')).toEqual(miss)
    await cache.close()
  })

  it('an update through the stream keeps the types too (the payload travels in typed JSON)', async () => {
    const accounts = createEntityCache<Account>({ redis: server.url, entity: 'account', timeout: '1s' })
    const sync = createStreamConsumer({
      redis: server.url,
      group: 'accounts',
      consumer: 'a1',
      entityCache: accounts,
      block: '100ms',
      startId: '0',
    })
    running.push(sync)
    await sync.start()
    await publishEntityEvent(redis, STREAM, {
      type: 'account.updated',
      id: '5',
      payload: account('5'),
      version: 1,
    })
    await waitFor(() => sync.stats().acked === 1, 10_000)
    expect(await accounts.get('5')).toEqual(account('5'))
    await accounts.close()
  })

  it('a corrupt tagged field is counted and read as a miss, never thrown at the caller', async () => {
    const cache = createEntityCache<Account>({ redis: server.url, entity: 'account' })
    await cache.set(account('9'))
    await redis.hset('cache:__entity:account:9', 'joinedAt', '{"$t":"D","v":"not a time"}')
    expect(await cache.get('9')).toBeNull()
    expect(cache.stats()).toMatchObject({ misses: 1, errors: 1 })
    await cache.close()
  })
})

describe("seed 002 scenario 3: the seed producer's stream entries", () => {
  it('{event: "updated", userId, …the user\'s fields} as entry fields: applied and acked', async () => {
    const sync = consumer()
    await sync.start()
    await redis.xadd(STREAM, '*', 'event', 'created', 'userId', '123', ...Object.entries(SEED_HASH).flat())
    await redis.xadd(
      STREAM,
      '*',
      'event',
      'updated',
      'userId',
      '123',
      ...Object.entries({ ...SEED_HASH, fullName: 'Jean-Paul Dupont', updatedAt: '1736862000500' }).flat(),
    )
    await waitFor(() => sync.stats().acked === 2, 10_000)
    expect(await seedCache.get('123')).toEqual({
      ...SEED_HASH,
      id: '123',
      fullName: 'Jean-Paul Dupont',
      updatedAt: 1736862000500,
    })
    // updatedAt is the version: a late replay of the first entry cannot undo the update.
    await redis.xadd(STREAM, '*', 'event', 'updated', 'userId', '123', ...Object.entries(SEED_HASH).flat())
    await waitFor(() => sync.stats().acked === 3, 10_000)
    expect((await seedCache.get('123'))?.fullName).toBe('Jean-Paul Dupont')
    expect(sync.stats()).toMatchObject({ applied: 3, stale: 1, deadLettered: 0 })

    await redis.xadd(STREAM, '*', 'event', 'deleted', 'userId', '123')
    await waitFor(() => sync.stats().acked === 4, 10_000)
    expect(await redis.exists('user:profile:123')).toBe(0)
  })

  it('one JSON object in `payload` with event "user.profile.updated", as the seed consumer reads it', async () => {
    const sync = consumer()
    await sync.start()
    const payload = {
      event: 'user.profile.updated',
      userId: '570479H',
      ...SEED_HASH,
      updatedAt: 1736862000000,
    }
    await redis.xadd(STREAM, '*', 'payload', JSON.stringify(payload))
    await redis.xadd(STREAM, '*', 'event', JSON.stringify({ event: 'user.profile.deleted', userId: '1' }))
    // The name and the id as entry fields, the user as JSON beside them.
    await redis.xadd(
      STREAM,
      '*',
      'event',
      'updated',
      'userId',
      '570480J',
      'payload',
      JSON.stringify(SEED_HASH),
    )
    await waitFor(() => sync.stats().acked === 3, 10_000)
    expect((await seedCache.get('570480J'))?.matricule).toBe('MAT001')
    expect(await seedCache.get('570479H')).toEqual({ ...SEED_HASH, id: '570479H', updatedAt: 1736862000000 })
    expect(sync.stats()).toMatchObject({ applied: 3, deadLettered: 0 })
  })

  it("cachet's own entries flow beside the seed's; a seed entry without userId is dead-lettered", async () => {
    const sync = consumer()
    await sync.start()
    await publishEntityEvent(redis, STREAM, {
      type: 'user.profile.updated',
      id: '8',
      payload: { id: '8', fullName: 'Grace Abena', updatedAt: 5 },
      version: 5,
    })
    await redis.xadd(STREAM, '*', 'event', 'updated', 'fullName', 'Nobody')
    await redis.xadd(STREAM, '*', 'event', 'updated', 'userId', '9', 'fullName', 'Eric Fotso')
    await waitFor(() => sync.stats().applied === 2 && sync.stats().deadLettered === 1, 10_000)
    expect((await seedCache.get('8'))?.fullName).toBe('Grace Abena')
    expect((await seedCache.get('9'))?.fullName).toBe('Eric Fotso')
    const [dead] = await redis.xrange(`${STREAM}:dlq`, '-', '+')
    expect(dead![1]).toEqual(expect.arrayContaining(['dlq-reason', 'unparseable: missing event or userId']))
  })
})
