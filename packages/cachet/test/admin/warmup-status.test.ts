import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { adminPlugin, createWarmupRegistry, type WarmupRegistry } from '../../src/admin/index.js'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { ADMIN, TOKEN } from './setup.js'

/** Two admin instances (two processes of one service) on one redis-server, each with its own warmers. */
let redis: TestRedis
let raw: Redis
const instances: Array<{ app: FastifyInstance; cache: CacheApi; warmers: WarmupRegistry }> = []
let release: () => void = () => {}

beforeAll(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
  for (let i = 0; i < 2; i++) {
    const cache = createCache({ redis: redis.url, prefix: 'cache', logger: false })
    const warmers = createWarmupRegistry()
      .register('products', async ({ set }) => {
        await set('products:popular:list', [{ id: 1 }])
        return { keys: 1 }
      })
      .register('slow', async () => {
        await new Promise<void>((resolve) => {
          release = resolve
        })
        return { keys: 0 }
      })
    // A running service: connected to Redis before the first warm-up (a write before that is dropped).
    await vi.waitFor(
      async () => {
        if (!(await cache.health()).redis.connected) throw new Error('not connected yet')
      },
      { timeout: 10_000 },
    )
    const app = Fastify({ logger: false })
    await app.register(adminPlugin, { prefix: '/api/cache', cache, tokens: [TOKEN], warmers })
    await app.ready()
    instances.push({ app, cache, warmers })
  }
})

afterAll(async () => {
  release()
  for (const { app, cache } of instances) {
    await app.close()
    await cache.close()
  }
  raw.disconnect()
  await redis.stop()
})

const call = (i: number, method: 'GET' | 'POST', url: string, payload?: object) =>
  instances[i]!.app.inject({ method, url: `/api/cache${url}`, headers: ADMIN, payload })

describe("seed 004's cache:warmup:status, shared by every instance", () => {
  it('shows the run another instance is doing, then how it ended', async () => {
    const started = await call(0, 'POST', '/warmup', { modules: ['slow'], wait: false })
    expect(started.statusCode).toBe(202)
    const jobId = started.json().data.jobId

    // Instance 1 ran nothing itself, yet sees instance 0's run from Redis.
    await expect
      .poll(async () => (await call(1, 'GET', '/warmup')).json().data.status?.status, { timeout: 10_000 })
      .toBe('running')
    const running = (await call(1, 'GET', '/warmup')).json().data
    expect(running.jobs).toEqual([])
    expect(running.status).toMatchObject({ id: jobId, modules: ['slow'], trigger: 'api' })

    release()
    await instances[0]!.warmers.job(jobId)!.done
    const done = (await call(1, 'GET', '/warmup')).json().data.status
    expect(done).toMatchObject({ id: jobId, status: 'completed', modulesWarmed: ['slow'], errors: 0 })
  })

  it('is the key cache:warmup:status under the prefix, and the latest run wins', async () => {
    const response = await call(1, 'POST', '/warmup', { modules: ['products'] })
    expect(response.json().stats).toMatchObject({ modulesWarmed: ['products'], keysCreated: 1 })
    const seen = (await call(0, 'GET', '/warmup')).json().data.status
    expect(seen).toMatchObject({ id: response.json().details.jobId, status: 'completed', keysCreated: 1 })
    expect(await raw.exists('cache:cache:warmup:status')).toBe(1)
    expect(await raw.pttl('cache:cache:warmup:status')).toBeGreaterThan(6 * 86_400_000)
  })
})
