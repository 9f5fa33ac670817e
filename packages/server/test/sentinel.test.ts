import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisSentinel, type TestSentinel } from '../../cachet/test/helpers/redis-sentinel.js'
import { loadConfig } from '../src/config.js'
import type { RunningServer } from '../src/start.js'
import { ADMIN_HEADERS, startTestServer } from './start-test-server.js'

let sentinel: TestSentinel
let server: RunningServer
let master: Redis

beforeAll(async () => {
  sentinel = await startRedisSentinel()
  master = new Redis(await sentinel.masterPort(), '127.0.0.1')
  // The user part is the data nodes' credentials; the test Redis has none, so only the banner reads it.
  server = await startTestServer({
    REDIS_URL: sentinel.url,
    CACHET_DEMO_ROWS: '5000',
    CACHET_DEMO_ORDER_ITEMS: '2000',
  })
}, 90_000)

afterAll(async () => {
  await server?.stop()
  master?.disconnect()
  await sentinel?.stop()
})

describe('the demo server with REDIS_URL=redis+sentinel://…', () => {
  it('accepts the scheme and still refuses others', () => {
    expect(loadConfig({ REDIS_URL: sentinel.url }).redisUrl).toBe(sentinel.url)
    expect(() => loadConfig({ REDIS_URL: 'sentinel://h:1/m' })).toThrow(/redis\+sentinel:\/\//)
  })

  it('caches through the master the sentinels name: MISS, HIT, and the entry is on that master', async () => {
    const miss = await server.app.inject({ method: 'GET', url: '/api/search?q=billing' })
    expect(miss.statusCode).toBe(200)
    expect(miss.headers['x-cache']).toBe('MISS')
    const hit = await server.app.inject({ method: 'GET', url: '/api/search?q=billing' })
    expect(hit.headers['x-cache']).toBe('HIT')
    expect(await master.exists(String(miss.headers['x-cache-key']))).toBe(1)
  })

  it('the admin API reads the master through its own Sentinel connection; health is not unhealthy', async () => {
    const stats = await server.app.inject({ method: 'GET', url: '/api/cache/stats', headers: ADMIN_HEADERS })
    expect(stats.statusCode).toBe(200)
    const { data } = stats.json()
    expect(data.connected).toBe(true)
    expect(data.version).toMatch(/^\d+\.\d+/)
    // The master's DBSIZE, read through the Sentinel connection (the demo writes in the background, so
    // the two reads may differ by a few keys).
    const size = await master.dbsize()
    expect(data.redis.dbSize).toBeGreaterThan(0)
    expect(Math.abs(data.redis.dbSize - size)).toBeLessThanOrEqual(5)
    const health = await server.app.inject({ method: 'GET', url: '/api/cache/health' })
    expect(health.statusCode).toBe(200)
    expect(health.json().status).not.toBe('unhealthy')
  })

  it('the user entity cache and its stream consumer run on it', async () => {
    const first = await server.app.inject({ method: 'GET', url: '/api/users/42' })
    expect(first.statusCode).toBe(200)
    expect(await master.type('cache:__entity:user:profile:42')).toBe('hash')
  })

  it('the banner names it without a password', () => {
    expect(server.banner).toContain(sentinel.url.replace('redis+sentinel://', ''))
  })
})
