import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache } from '../../src/index.js'
import { createQueryCache } from '../../src/sql/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type Backend, backends, type TestDatabase, warnSkipped } from './helpers/databases.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const MINUTE = 60_000
let n = 0

/**
 * The engine spreads every ttl by ±10% (jitter); the remaining ttl is read a moment after the write,
 * which on a starved machine can be seconds (still far from the next ttl class, a minute away at least).
 */
function expectAbout(ms: number | undefined, expected: number) {
  expect(ms).toBeGreaterThan(expected * 0.9 - 3_000)
  expect(ms).toBeLessThanOrEqual(expected * 1.1)
}

for (const backend of backends) defineSuite(backend)

function defineSuite(backend: Backend) {
  warnSkipped(backend)
  describe.skipIf(backend.unavailable !== undefined)(`TTL of cached queries on ${backend.name}`, () => {
    let database: TestDatabase
    let cache: CacheApi
    beforeAll(async () => {
      database = await backend.open()
      cache = createCache({ redis: redis.url, prefix: `ttl${n++}`, logger: false, l2: RELAXED_L2 })
    })
    afterAll(async () => {
      await cache?.close()
      await database?.close()
    })

    it('gives a query slower than 1 s the 5-minute tier and a fast one the 1-minute tier (seed 003 §5.3)', async () => {
      const queries = createQueryCache({ cache, db: database.db })
      const slow = 'SELECT pg_sleep(1.1)::text AS slept, 1 AS x'
      const fast = 'SELECT 2 AS x'
      await queries.query(slow)
      await queries.query(fast)
      expectAbout(await cache.ttl(await queries.key(slow)), 5 * MINUTE)
      expectAbout(await cache.ttl(await queries.key(fast)), 1 * MINUTE)
    })

    it('a per-call ttl overrides the adaptive TTL; defaultTtl applies when adaptiveTtl is off', async () => {
      const adaptive = createQueryCache({ cache, db: database.db })
      await adaptive.query('SELECT 3 AS x', undefined, { ttl: '2h' })
      expectAbout(await cache.ttl(await adaptive.key('SELECT 3 AS x')), 120 * MINUTE)

      const fixed = createQueryCache({
        cache,
        db: database.db,
        namespace: 'fixed',
        adaptiveTtl: false,
        defaultTtl: '20m',
      })
      await fixed.query('SELECT 4 AS x')
      expectAbout(await cache.ttl(await fixed.key('SELECT 4 AS x')), 20 * MINUTE)
    })
  })
}
