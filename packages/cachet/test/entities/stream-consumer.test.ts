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
import { type User, UserSchema, user, waitFor } from './fixtures.js'

const STREAM = 'events:users'
let server: TestRedis
let redis: Redis
let cache: EntityCache<User>
const running: StreamConsumer[] = []

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
  cache = createEntityCache<User>({ redis: server.url, schema: UserSchema, timeout: '1s' })
})

afterAll(async () => {
  await cache.close()
  redis.disconnect()
  await server.stop()
})

beforeEach(async () => {
  await redis.flushdb()
})

afterEach(async () => {
  await Promise.all(running.splice(0).map((consumer) => consumer.stop()))
})

function consumer(name: string, extra: Partial<Parameters<typeof createStreamConsumer<User>>[0]> = {}) {
  const created = createStreamConsumer<User>({
    redis: server.url,
    group: 'chat-file-service',
    consumer: name,
    entityCache: cache,
    block: '100ms',
    checkInterval: '200ms',
    minIdle: '300ms',
    ...extra,
  })
  running.push(created)
  return created
}

const publish = (type: string, entity: User) =>
  publishEntityEvent(redis, STREAM, { type, id: entity.id, payload: entity, version: entity.updatedAt })

async function pendingCount(): Promise<number> {
  const summary = (await redis.xpending(STREAM, 'chat-file-service')) as [number, ...unknown[]]
  return Number(summary[0])
}

describe('stream consumer: applying events', () => {
  it('applies user.profile.created / updated / deleted and acks them', async () => {
    const sync = consumer('c1')
    await sync.start()
    await publish('user.profile.created', user('1', 100, { fullName: 'Jean' }))
    await publish('user.profile.created', user('2', 100))
    await publish('user.profile.updated', user('1', 200, { fullName: 'Jean Dupont' }))
    await publishEntityEvent(redis, STREAM, { type: 'user.profile.deleted', id: '2', version: 300 })
    // A late update of the deleted user must not resurrect it.
    await publish('user.profile.updated', user('2', 250))

    await waitFor(() => sync.stats().acked === 5, 10_000)
    expect((await cache.get('1'))?.fullName).toBe('Jean Dupont')
    expect(await cache.get('2')).toBeNull()
    expect(sync.stats()).toMatchObject({ delivered: 5, applied: 5, stale: 1, deadLettered: 0 })
    expect(await pendingCount()).toBe(0)
    await waitFor(() => sync.stats().lag === 0, 5_000)
  })

  it('creates the group idempotently and a restarted consumer resumes its own pending entries', async () => {
    await redis.xgroup('CREATE', STREAM, 'chat-file-service', '0', 'MKSTREAM')
    await publish('user.profile.created', user('5', 1))
    // "c1" read the entry, then its process died before acking.
    await redis.xreadgroup('GROUP', 'chat-file-service', 'c1', 'COUNT', 10, 'STREAMS', STREAM, '>')
    expect(await pendingCount()).toBe(1)
    const restarted = consumer('c1', { minIdle: '1h' })
    await restarted.start()
    await waitFor(async () => (await pendingCount()) === 0, 10_000)
    expect((await cache.get('5'))?.id).toBe('5')
  })
})

describe('stream consumer: at-least-once', () => {
  it('2,000 events, a crashed consumer and a stopped one: the others claim their entries, 0 lost', async () => {
    const source = new Map<string, User | null>()
    await redis.xgroup('CREATE', STREAM, 'chat-file-service', '0', 'MKSTREAM')
    let sent = 0
    const produce = async (count: number) => {
      for (let i = 0; i < count; i++, sent++) {
        const id = String(sent % 200)
        const version = 1_000 + sent
        if (sent % 37 === 0) {
          source.set(id, null)
          await publishEntityEvent(redis, STREAM, { type: 'user.profile.deleted', id, version })
        } else {
          const next = user(id, version, { fullName: `v${version}` })
          const type = source.has(id) ? 'user.profile.updated' : 'user.profile.created'
          source.set(id, next)
          await publish(type, next)
        }
      }
    }
    await produce(1_000)
    // A consumer that read 400 entries and crashed before acking any of them.
    await redis.xreadgroup('GROUP', 'chat-file-service', 'crashed', 'COUNT', 400, 'STREAMS', STREAM, '>')

    const a = consumer('a', { batchSize: 50 })
    const b = consumer('b', { batchSize: 50 })
    await a.start()
    await b.start()
    const producing = produce(1_000)
    await waitFor(() => a.stats().applied >= 200, 20_000)
    await a.stop() // mid-stream: whatever it had read but not applied stays pending for "b"
    await producing
    await waitFor(async () => (await pendingCount()) === 0 && b.stats().lag === 0, 30_000)

    const reader = createEntityCache<User>({ redis: server.url, schema: UserSchema })
    let lost = 0
    for (const [id, expected] of source) {
      const actual = await reader.get(id)
      if (expected === null ? actual !== null : actual?.updatedAt !== expected.updatedAt) lost++
    }
    await reader.close()
    expect(source.size).toBe(200)
    expect(lost).toBe(0)
    const stats = [a.stats(), b.stats()]
    // The crashed consumer's 400 entries were claimed by the live ones (either may claim them first).
    expect(stats[0]!.claimed + stats[1]!.claimed).toBeGreaterThanOrEqual(400)
    // Every one of the 2,000 entries was applied at least once (duplicates are allowed, losses are not).
    expect(stats[0]!.applied + stats[1]!.applied).toBeGreaterThanOrEqual(2_000)
  }, 60_000)
})

describe('stream consumer: poison entries', () => {
  it('an unparseable entry goes to the dead-letter stream at once; the group keeps flowing', async () => {
    const sync = consumer('c1')
    const dead: string[] = []
    sync.on('dead-letter', ({ id }) => dead.push(id))
    await sync.start()
    const poison = await redis.xadd(
      STREAM,
      '*',
      'type',
      'user.profile.updated',
      'id',
      '1',
      'payload',
      '{not json',
    )
    await publish('user.profile.created', user('2', 1))
    await waitFor(() => sync.stats().applied === 1 && sync.stats().deadLettered === 1, 10_000)
    expect(dead).toEqual([poison])
    const [entry] = await redis.xrange(`${STREAM}:dlq`, '-', '+')
    const fields = entry![1]
    expect(fields.slice(0, 6)).toEqual(['type', 'user.profile.updated', 'id', '1', 'payload', '{not json'])
    expect(fields).toContain(poison)
    expect(await pendingCount()).toBe(0)
  })

  it('an entry whose handler keeps failing is dead-lettered after maxDeliveries; others are applied', async () => {
    const attempts = new Map<string, number>()
    const sync = consumer('c1', {
      minIdle: '100ms',
      maxDeliveries: 3,
      handlers: {
        'user.profile.updated': async (event, entities) => {
          attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1)
          if (event.id === 'bad') throw new Error('downstream rejects this entity')
          return entities.set(event.payload as User, { version: event.version })
        },
      },
    })
    await sync.start()
    await publish('user.profile.updated', user('bad', 1))
    for (let i = 0; i < 50; i++) await publish('user.profile.updated', user(String(i), 1))

    await waitFor(() => sync.stats().deadLettered === 1, 15_000)
    expect(attempts.get('bad')).toBe(3)
    expect(sync.stats().applied).toBe(50)
    const [entry] = await redis.xrange(`${STREAM}:dlq`, '-', '+')
    expect(entry![1]).toEqual(expect.arrayContaining(['dlq-reason', 'max-deliveries', 'dlq-deliveries', '3']))
    expect(await pendingCount()).toBe(0)
  })
})
