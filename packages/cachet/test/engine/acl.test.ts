import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let admin: Redis
beforeAll(async () => {
  redis = await startRedis()
  admin = new Redis(redis.url)
  // RELIABILITY S10 / E10: least privilege — only keys and channels under the prefix, no @dangerous.
  await admin.acl(
    'SETUSER',
    'app',
    'on',
    '>app-secret',
    '~cache:*',
    '&cache:*',
    '+@all',
    '-@dangerous',
    '+memory|usage',
  )
  await admin.set('other:data', 'untouched')
})
afterAll(async () => {
  admin.disconnect()
  await redis.stop()
})

describe('least privilege', () => {
  it('works under an ACL user limited to its prefix and without @dangerous commands', async () => {
    const url = `redis://app:app-secret@127.0.0.1:${redis.port}`
    const cache = createCache({ redis: url, logger: false, l2: RELAXED_L2 })
    const errors: string[] = []
    cache.on('error', ({ operation, error }) => errors.push(`${operation}: ${error.message}`))
    await admin.config('RESETSTAT')

    expect(await cache.getOrSet('report:1', async () => ({ total: 1 }), { tags: ['reports'] })).toEqual({
      total: 1,
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    await cache.set('report:2', 2, { tags: ['reports'] })
    expect(await cache.invalidateTags(['reports'])).toBe(2)
    await cache.setMany([
      { key: 'a:1', value: 1 },
      { key: 'a:2', value: 2 },
    ])
    expect(await cache.deleteByPattern('a:*')).toBe(2)
    expect((await cache.keys()).keys).toEqual([])
    await cache.set('z', 1)
    expect(await cache.clear()).toBe(1)
    const health = await cache.health()
    expect(health.status).not.toBe('unhealthy')
    expect(health.redis.connected).toBe(true)

    expect(errors).toEqual([])
    expect(await admin.get('other:data')).toBe('untouched')
    const commandStats = await admin.info('commandstats')
    expect(commandStats).not.toMatch(/cmdstat_(keys|flushdb|flushall):/)
    // Only INFO is refused (ioredis' ready check, and health(), which then skips the memory check),
    // and SUBSCRIBE to Redis' invalidation channel, outside the user's channels: the bus keeps L1
    // coherent instead of tracking.
    const rejected = commandStats.split('\r\n').filter((line) => /rejected_calls=[1-9]/.test(line))
    expect(rejected.map((line) => line.split(':')[0]).sort()).toEqual(['cmdstat_info', 'cmdstat_subscribe'])
    expect(health.invalidation).toMatchObject({ sources: ['bus'], tracking: 'refused' })
    await cache.close()
  })
})
