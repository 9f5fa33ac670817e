import 'reflect-metadata'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { type INestApplicationContext, Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { Redis } from 'ioredis'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWarmupRegistry } from '../../src/admin/warmup.js'
import type { CacheApi } from '../../src/core/cache-api.js'
import { InvalidOptionError } from '../../src/core/errors.js'
import { CacheService, CacheServiceModule } from '../../src/http/nestjs.js'
import { createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

/**
 * Seed 004 §11.1's AFTER code, type-checked and compiled by tsc as a NestJS project compiles it
 * (CommonJS, experimentalDecorators, emitDecoratorMetadata: CacheService is injected by its type), then
 * run as an application runs it: `cachet` and `cachet/nestjs` resolve to the built package (dist/,
 * which `npm test` keeps current). The consumer test does the same from the packed tarball.
 */
const FIXTURE = fileURLToPath(
  new URL(
    '../../../../scripts/consumer-test/fixtures/nest-cjs-app/src/seed-004-migration.ts',
    import.meta.url,
  ),
)
type Fixture = {
  DataService: new (...args: never[]) => { getData(id: string): Promise<unknown>; fetches: number }
  appModule(redisUrl: string): { AppModule: new () => unknown; cache: CacheApi }
}
function compileFixture(): Fixture {
  const program = ts.createProgram([FIXTURE], {
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    target: ts.ScriptTarget.ES2021,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    types: ['node'],
  })
  const diagnostics = ts.getPreEmitDiagnostics(program)
  if (diagnostics.length > 0) {
    throw new Error(
      ts.formatDiagnostics(diagnostics, {
        getCanonicalFileName: (name) => name,
        getCurrentDirectory: () => process.cwd(),
        getNewLine: () => '\n',
      }),
    )
  }
  let code = ''
  program.emit(program.getSourceFile(FIXTURE), (name, text) => {
    if (name.endsWith('.js')) code = text
  })
  const module = { exports: {} as Fixture }
  new Function('require', 'module', 'exports', code)(createRequire(FIXTURE), module, module.exports)
  return module.exports
}

let redis: TestRedis
let raw: Redis
let cache: CacheApi
let app: INestApplicationContext
let service: CacheService

beforeAll(async () => {
  redis = await startRedis(['--maxmemory', '64mb'])
  raw = new Redis(redis.url)
  cache = createCache({ redis: redis.url, prefix: 'svc', logger: false, jitter: 0 })
  const warmers = createWarmupRegistry().register('products', async ({ set }) => {
    await set('products:popular:list', [{ id: 1 }, { id: 2 }])
    return { keys: 1 }
  })
  // A root module that imports the global cache module once (no decorator syntax in this project).
  class AppModule {}
  Module({ imports: [CacheServiceModule.forRoot({ cache, warmers })] })(AppModule)
  app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false })
  service = app.get(CacheService)
})

afterAll(async () => {
  await app?.close()
  await cache?.close()
  raw?.disconnect()
  await redis?.stop()
})

const near = (ms: number | undefined, expected: number) =>
  ms !== undefined && ms <= expected && ms > expected - 5_000

describe("seed 004's AFTER migration code (§11.1), unchanged", () => {
  it('compiles with Nest decorators, gets CacheService injected by type, and caches for 3600 s', async () => {
    const fixture = compileFixture()
    const { AppModule, cache: own } = fixture.appModule(redis.url)
    const context = await NestFactory.createApplicationContext(AppModule, {
      logger: false,
      abortOnError: false,
    })
    try {
      const data = context.get(fixture.DataService)
      expect(await data.getData('7')).toEqual({ id: '7', name: 'data 7' })
      expect(await data.getData('7')).toEqual({ id: '7', name: 'data 7' })
      expect(data.fetches).toBe(1)
      const ttl = await own.ttl('data:7')
      expect(ttl! > 3_230_000 && ttl! <= 3_960_000).toBe(true)
    } finally {
      await context.close()
      await own.close()
    }
    // tsc type-checks the file with Nest's declarations: seconds on a loaded machine.
  }, 120_000)
})

describe('CacheService: core operations (seed 004 §3.1 and its §10.2 tests)', () => {
  it('should set and get value; null for a missing key', async () => {
    await service.set('test:key', { value: 123 })
    expect(await service.get('test:key')).toEqual({ value: 123 })
    expect(await service.get('missing:key')).toBeNull()
  })

  it('should clear by pattern', async () => {
    await service.set('users:1', { id: 1 })
    await service.set('users:2', { id: 2 })
    expect(await service.clearByPattern('users:*')).toBe(2)
    expect(await service.get('users:1')).toBeNull()
    expect(await service.get('users:2')).toBeNull()
  })

  it('should use smart TTL (§4.3), and an explicit ttl in seconds wins', async () => {
    expect(service['getSmartTTL']('stock:available')).toBe(60)
    expect(service['getSmartTTL']('unknown:key')).toBe(300)
    expect(service['getSmartTTL']('vehicles:brands:top20')).toBe(3600)
    await service.set('products:popular:list', [1, 2, 3])
    expect(near(await cache.ttl('products:popular:list'), 900_000)).toBe(true)
    await service.set('products:popular:list', [1, 2, 3], 42)
    expect(near(await cache.ttl('products:popular:list'), 42_000)).toBe(true)
    await expect(service.set('x', 1, -5)).rejects.toThrow(InvalidOptionError)
  })

  it('del and delete remove one key', async () => {
    await service.set('a:1', 1)
    await service.set('a:2', 2)
    expect(await service.del('a:1')).toBe(true)
    expect(await service.delete('a:2')).toBe(true)
    expect(await service.get('a:1')).toBeNull()
    expect(await service.exists('a:2')).toBe(false)
  })

  it('getOrSet runs the fetcher once and stores for ttl seconds', async () => {
    let calls = 0
    const fetcher = async () => ({ n: ++calls })
    expect(await service.getOrSet('dashboard:stats', fetcher)).toEqual({ n: 1 })
    expect(await service.getOrSet('dashboard:stats', fetcher)).toEqual({ n: 1 })
    expect(calls).toBe(1)
    expect(near(await cache.ttl('dashboard:stats'), 300_000)).toBe(true)
  })
})

describe('CacheService: stats, warm-up and health (§3.1, §3.2)', () => {
  it('getStats answers memory, key count and hit rate', async () => {
    await service.set('stats:1', 1)
    await service.get('stats:1')
    const before = await raw.dbsize()
    const stats = await service.getStats()
    const after = await raw.dbsize()
    expect(stats.memory).toMatch(/^[\d.]+[BKMG]$/)
    expect(stats.keyCount).toBeGreaterThanOrEqual(Math.min(before, after))
    expect(stats.keyCount).toBeLessThanOrEqual(Math.max(before, after))
    expect(stats.keyCount).toBeGreaterThan(0)
    expect(stats.hitRate).toMatch(/^\d+\.\d%$/)
    expect(stats.connected).toBe(true)
  })

  it('warmup runs the registered modules and answers the seed stats', async () => {
    await cache.delete('products:popular:list')
    const result = await service.warmup(['products'])
    expect(result).toMatchObject({ modulesWarmed: ['products'], keysCreated: 1, errors: 0 })
    expect(result.duration).toMatch(/^\d+ms$|^[\d.]+s$/)
    expect(await service.get('products:popular:list')).toEqual([{ id: 1 }, { id: 2 }])
  })

  it('healthCheck, ping, getMemoryInfo, checkConnection', async () => {
    const health = await service.healthCheck()
    expect(['healthy', 'degraded']).toContain(health.status)
    expect(health.redis).toMatchObject({ connected: true, maxMemory: '64.0M' })
    expect(health.redis.latency).toMatch(/^\d+ms$/)
    expect(await service.ping()).toBeGreaterThanOrEqual(0)
    const memory = await service.getMemoryInfo()
    expect(memory.maxMemory).toBe(64 * 1024 * 1024)
    expect(memory.usedMemory).toBeGreaterThan(0)
    expect(memory.usagePercent).toBeGreaterThan(0)
    expect(memory.usagePercent).toBeLessThan(100)
    expect(await service.checkConnection()).toBe(true)
  })

  it('reports a Redis that does not answer as unhealthy and not connected', async () => {
    const down = createCache({
      redis: 'redis://127.0.0.1:1',
      prefix: 'down',
      logger: false,
      l2: { timeout: 200 },
    })
    const offline = new CacheService({ cache: down })
    try {
      expect(await offline.checkConnection()).toBe(false)
      await expect(offline.ping()).rejects.toThrow()
      const health = await offline.healthCheck()
      expect(health.status).toBe('unhealthy')
      expect(health.redis.connected).toBe(false)
      expect(await offline.get('k')).toBeNull()
    } finally {
      await down.close()
    }
  })
})

describe('CacheService: invalidation and tags (§3.2)', () => {
  it('invalidate deletes keys, patterns and tags with a count each', async () => {
    await service.set('user:123', 1)
    await service.set('product:456', 2)
    await cache.setMany([
      { key: 'users:a', value: 1 },
      { key: 'users:b', value: 2 },
      { key: 'tagged:1', value: 3, tags: ['user-data'] },
    ])
    const result = await service.invalidate({
      keys: ['user:123', 'product:456'],
      patterns: ['users:*'],
      tags: ['user-data'],
    })
    expect(result).toMatchObject({
      keysInvalidated: 5,
      patternsProcessed: 1,
      tagsProcessed: 1,
      details: { keys: ['user:123', 'product:456'], patterns: { 'users:*': 2 }, tags: { 'user-data': 1 } },
    })
    expect(await service.get('tagged:1')).toBeNull()
  })

  it('addTagToKey tags an existing entry, getKeysByTag lists it, invalidateByTag removes it', async () => {
    await service.set('user:stats:123', { visits: 3 }, 600)
    await service.set('user:123', { name: 'Ada' }, 600)
    expect(await service.addTagToKey('user:123', 'user-data')).toBe(true)
    expect(await service.addTagToKey('user:stats:123', 'user-data')).toBe(true)
    expect(await service.addTagToKey('absent:key', 'user-data')).toBe(false)
    expect(await service.getKeysByTag('user-data')).toEqual(['user:123', 'user:stats:123'])
    // The value and what was left of its freshness are kept.
    expect(await service.get('user:123')).toEqual({ name: 'Ada' })
    expect(near(await cache.ttl('user:123'), 600_000)).toBe(true)
    expect(await service.invalidateByTag('user-data')).toBe(2)
    expect(await service.getKeysByTag('user-data')).toEqual([])
    expect(await service.get('user:123')).toBeNull()
  })
})

describe('CacheService: key management (§3.2)', () => {
  it('listKeys pages with a cursor and says how many match', async () => {
    await cache.setMany(Array.from({ length: 5 }, (_, i) => ({ key: `list:${i}`, value: i })))
    const seen = new Set<string>()
    let cursor: string | undefined
    do {
      const page = await service.listKeys('list:*', cursor, 2)
      expect(page.pagination.total).toBe(5)
      expect(page.keys.length).toBeLessThanOrEqual(2)
      for (const key of page.keys) {
        expect(key).toMatchObject({ type: 'string' })
        expect(key.ttl).toBeGreaterThan(0)
        seen.add(key.key)
      }
      cursor = page.pagination.nextCursor ?? undefined
    } while (cursor)
    expect([...seen].sort()).toEqual(['list:0', 'list:1', 'list:2', 'list:3', 'list:4'])
  })

  it('getKeyInfo, deleteMultiple, exists, expire', async () => {
    await service.set('info:small', { a: 1 }, 100)
    await service.set('info:big', 'x'.repeat(5000), 100)
    expect(await service.getKeyInfo('info:small')).toMatchObject({
      key: 'info:small',
      type: 'string',
      value: { a: 1 },
    })
    const big = await service.getKeyInfo('info:big')
    expect(big?.value).toBeUndefined()
    expect(big?.size).toMatch(/^[\d.]+[BK]$/)
    expect(await service.getKeyInfo('info:absent')).toBeNull()

    expect(await service.exists('info:small')).toBe(true)
    expect(await service.expire('info:small', 2000)).toBe(true)
    expect(near(await cache.ttl('info:small'), 2_000_000)).toBe(true)
    expect(await service.expire('info:absent', 10)).toBe(false)

    expect(await service.deleteMultiple(['info:small', 'info:big', 'info:absent'])).toBe(2)
    expect(await service.exists('info:small')).toBe(false)
    expect(await service.deleteMultiple([])).toBe(0)
  })
})
