import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { InvalidOptionError } from '../../../src/core/errors.js'
import { createEntityCache, createStreamConsumer, publishEntityEvent } from '../../../src/entities/index.js'
import { createCache } from '../../../src/index.js'
import { connectRedis } from '../../../src/tiers/redis/client.js'
import { parseSentinelUrl } from '../../../src/tiers/redis/sentinel-url.js'
import { type User, UserSchema, user, waitFor } from '../../entities/fixtures.js'
import { startRedisSentinel, type TestSentinel } from '../../helpers/redis-sentinel.js'

describe('parseSentinelUrl', () => {
  it('reads the sentinels, the master name, the credentials of the data nodes and the db', () => {
    expect(parseSentinelUrl('redis+sentinel://10.0.0.1:26379,sentinel-b,[::1]:26380/orders')).toEqual({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sentinel-b', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'orders',
    })
    expect(parseSentinelUrl('redis+sentinel://app:p%40ss@h:1/m?db=3')).toEqual({
      sentinels: [{ host: 'h', port: 1 }],
      name: 'm',
      username: 'app',
      password: 'p@ss',
      db: 3,
    })
  })

  it('refuses a URL without a master name, a bad address or db, without repeating the password', () => {
    for (const bad of [
      'redis+sentinel://h:1',
      'redis+sentinel://h:1/',
      'redis+sentinel://h:99999/m',
      'redis+sentinel://h:1,,h:2/m',
      'redis+sentinel://u:secret@h:1/m?db=x',
    ]) {
      expect(() => parseSentinelUrl(bad), bad).toThrow(InvalidOptionError)
      expect(() => parseSentinelUrl(bad)).not.toThrow(/secret/)
    }
  })

  it('createCache names the problem at once', () => {
    expect(() => createCache({ redis: 'redis+sentinel://h:1', logger: false })).toThrow(InvalidOptionError)
  })
})

describe('cachet under Sentinel (a master, a replica, three sentinels)', () => {
  let sentinel: TestSentinel
  let master: Redis

  beforeAll(async () => {
    sentinel = await startRedisSentinel()
    master = new Redis(await sentinel.masterPort(), '127.0.0.1')
  }, 60_000)

  afterAll(async () => {
    master?.disconnect()
    await sentinel?.stop()
  })

  it('connectRedis asks the sentinels for the master, by URL and by options', async () => {
    for (const input of [sentinel.url, { sentinels: sentinel.sentinels, name: sentinel.name }]) {
      const connection = connectRedis(input, { timeoutMs: 1_000 })
      await connection.client.set('sentinel:probe', 'x')
      const role = (await connection.client.call('ROLE')) as unknown[]
      expect(role[0]).toBe('master')
      expect(await master.get('sentinel:probe')).toBe('x')
      await connection.close()
    }
  })

  it('two caches, one by URL and one by options, share L2 and invalidate each other’s L1', async () => {
    const a = createCache({ redis: sentinel.url, prefix: 'st', logger: false, l2: { timeout: '1s' } })
    const b = createCache({
      redis: { sentinels: sentinel.sentinels, name: sentinel.name },
      prefix: 'st',
      logger: false,
      l2: { timeout: '1s' },
    })
    await a.set('greeting', 'hello', { tags: ['t'] })
    expect(await master.exists('st:greeting')).toBe(1)
    expect(await b.get('greeting')).toBe('hello') // from L2, now in b's L1
    await a.invalidateTags(['t'])
    await waitFor(async () => (await b.get('greeting')) === undefined, 5_000)
    expect((await a.health()).status).not.toBe('unhealthy')
    await Promise.all([a.close(), b.close()])
  })

  it('the entity cache and its stream consumer run on the Sentinel URL', async () => {
    const fetchOne = vi.fn(async (id: string) => user(id, 100))
    const users = createEntityCache<User>({
      redis: sentinel.url,
      schema: UserSchema,
      fetchOne,
      timeout: '1s',
    })
    const sync = createStreamConsumer<User>({
      redis: sentinel.url,
      stream: 'events:users',
      group: 'sentinel',
      consumer: 'c1',
      entityCache: users,
      block: '100ms',
    })
    await sync.start()
    expect(await users.get('7')).toEqual(user('7', 100))
    expect(await master.type(users.keyOf('7'))).toBe('hash')
    const renamed = user('7', 200, { fullName: 'Grace Hopper' })
    await publishEntityEvent(master, 'events:users', {
      type: 'user.profile.updated',
      id: '7',
      payload: renamed,
      version: 200,
    })
    await waitFor(() => sync.stats().acked === 1, 5_000)
    expect(await users.get('7')).toEqual(renamed)
    expect(fetchOne).toHaveBeenCalledTimes(1)
    await sync.stop()
    await users.close()
  })
})
