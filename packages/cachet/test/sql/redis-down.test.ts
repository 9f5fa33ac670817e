import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { createQueryCache } from '../../src/sql/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { backends, counting, type TestDatabase } from './helpers/databases.js'

let redis: TestRedis
let database: TestDatabase
beforeAll(async () => {
  redis = await startRedis()
  database = await backends[0]!.open() // PGlite: the point here is Redis, not the database
})
afterAll(async () => {
  await database.close()
  await redis.stop()
})

describe('Redis down', () => {
  it('queries still answer from the database, and writes still invalidate this instance', async () => {
    await database.sql('CREATE TABLE notes (id int PRIMARY KEY, body text)')
    await database.sql("INSERT INTO notes VALUES (1, 'one')")
    const cache = createCache({ redis: redis.url, prefix: 'down', logger: false })
    const counted = counting(database.db)
    const queries = createQueryCache({ cache, db: counted.db })
    const list = 'SELECT id FROM notes ORDER BY id'
    expect(await queries.query(list)).toEqual([{ id: 1 }])

    await redis.kill()
    // A query never cached: straight from the database, Redis errors swallowed by the engine.
    expect(await queries.query('SELECT body FROM notes WHERE id = :id', { id: 1 })).toEqual([{ body: 'one' }])
    // A write invalidates L1 here at once; the Redis side is queued until Redis is back.
    await queries.execute("INSERT INTO notes VALUES (2, 'two')")
    expect(await queries.query(list)).toEqual([{ id: 1 }, { id: 2 }])
    expect(counted.calls.filter((text) => text === list)).toHaveLength(2)

    await queries.warmUp([{ sql: 'SELECT count(*)::int AS n FROM notes' }]).then((result) => {
      expect(result).toMatchObject({ warmed: 1, failed: 0 })
    })
    queries.close()
    await redis.restart()
    await cache.close()
  })
})
