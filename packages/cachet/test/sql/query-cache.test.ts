import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, type CacheEvents, createCache, InvalidOptionError } from '../../src/index.js'
import { IDENTITY_PROBE_MARK } from '../../src/sql/identity.js'
import {
  cachedQuery,
  createQueryCache,
  DatabaseIdentityError,
  MutationInQueryError,
} from '../../src/sql/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type Backend, backends, counting, type TestDatabase, warnSkipped } from './helpers/databases.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

let n = 0
const caches: CacheApi[] = []
function newCache(prefix = `sql${n++}`): CacheApi {
  const cache = createCache({ redis: redis.url, prefix, logger: false })
  caches.push(cache)
  return cache
}
afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()))
})

for (const backend of backends) defineSuite(backend)

function defineSuite(backend: Backend) {
  warnSkipped(backend)
  describe.skipIf(backend.unavailable !== undefined)(`query cache on ${backend.name}`, () => {
    let database: TestDatabase
    beforeAll(async () => {
      database = await backend.open()
    })
    afterAll(async () => {
      await database?.close()
    })

    /** A fresh table `name` with rows (id, label, big, at); returns its name. */
    async function table(
      rows: Array<[number, string]> = [
        [1, 'X'],
        [2, 'x'],
        [3, 'y'],
      ],
    ): Promise<string> {
      const name = `items_${n++}`
      await database.sql(
        `CREATE TABLE ${name} (id int PRIMARY KEY, label text, big bigint, at timestamptz, note text)`,
      )
      for (const [id, label] of rows) {
        await database.sql(
          `INSERT INTO ${name} VALUES ($1, $2, 9007199254740993, '2024-01-02T03:04:05.678Z', NULL)`,
          [id, label],
        )
      }
      return name
    }

    function setup(cache = newCache()) {
      const counted = counting(database.db)
      const queries = createQueryCache({ cache, db: counted.db })
      return { cache, queries, calls: counted.calls }
    }

    it('detects the driver', () => {
      expect(setup().queries.driver).toBe(backend.name === 'PGlite' ? 'pglite' : 'pg-pool')
    })

    it('misses, then hits with identical rows, also from Redis in another instance (BigInt, Date, null)', async () => {
      const t = await table()
      const { queries, calls, cache } = setup()
      const sql = `SELECT * FROM ${t} ORDER BY id`
      const direct = await database.sql(sql)
      const first = await queries.query(sql)
      const second = await queries.query(sql)
      expect(first).toEqual(direct)
      expect(second).toEqual(direct)
      expect(calls).toHaveLength(1)

      // A second instance (empty L1) on the same Redis decodes what the first wrote.
      const other = setup(newCache(cache.prefix))
      const fromRedis = await other.queries.query(sql)
      expect(other.calls).toHaveLength(0)
      expect(fromRedis).toEqual(direct)
      // Whatever the driver gave for bigint (pg: string, PGlite: BigInt) and timestamptz (Date) survives.
      expect(typeof fromRedis[0]!.big).toBe(typeof direct[0]!.big)
      expect(fromRedis[0]!.at).toBeInstanceOf(Date)
      expect(fromRedis[0]!.note).toBeNull()
    })

    it('shares a key across whitespace, case and comments, but not across string literal case', async () => {
      const t = await table()
      const { queries, calls } = setup()
      const upper = await queries.query(`SELECT *  FROM ${t.toUpperCase()}\n  WHERE label='X' -- the big one`)
      const same = await queries.query(`select * from ${t} /* again */ where LABEL = 'X'`)
      expect(upper.map((row) => row.id)).toEqual([1])
      expect(same).toEqual(upper)
      expect(calls).toHaveLength(1)
      expect(await queries.key(`SELECT * FROM ${t} WHERE label='X'`)).toBe(
        await queries.key(`select * from ${t} where label = 'X'`),
      )

      const lower = await queries.query(`select * from ${t} where label = 'x'`)
      expect(lower.map((row) => row.id)).toEqual([2])
      expect(calls).toHaveLength(2)
    })

    it('binds named params, and their order does not change the key', async () => {
      const t = await table()
      const { queries, calls } = setup()
      const sql = `SELECT id FROM ${t} WHERE id >= :a AND id <= :b ORDER BY id`
      expect(await queries.key(sql, { a: 1, b: 2 })).toBe(await queries.key(sql, { b: 2, a: 1 }))
      expect(await queries.query(sql, { a: 1, b: 2 })).toEqual([{ id: 1 }, { id: 2 }])
      expect(await queries.query(sql, { b: 2, a: 1 })).toEqual([{ id: 1 }, { id: 2 }])
      expect(calls).toHaveLength(1)
      expect(calls[0]).toContain('id >= $1 AND id <= $2')
      // Positional params are ordered by nature.
      const positional = `SELECT id FROM ${t} WHERE id >= $1 AND id <= $2 ORDER BY id`
      expect(await queries.key(positional, [1, 2])).not.toBe(await queries.key(positional, [2, 1]))
      expect(await queries.query(positional, [2, 3])).toEqual([{ id: 2 }, { id: 3 }])
      // A cast is not a parameter; an unused parameter is a mistake.
      expect(await queries.query(`SELECT :a::int + 1 AS v`, { a: 41 })).toEqual([{ v: 42 }])
      await expect(queries.query(sql, { a: 1, b: 2, c: 3 })).rejects.toThrow(InvalidOptionError)
    })

    it('probes the database identity once for concurrent callers, and again after a failed probe', async () => {
      let probes = 0
      let failing = true
      const db = new Proxy(database.db, {
        get(target, property) {
          const value = Reflect.get(target, property, target)
          if (property !== 'query') return typeof value === 'function' ? value.bind(target) : value
          return (text: string, values?: unknown[]) => {
            if (text.startsWith(IDENTITY_PROBE_MARK) && text.includes('current_database()')) {
              probes++
              if (failing) return Promise.reject(new Error('connection refused'))
            }
            return value.call(target, text, values)
          }
        },
      })
      const queries = createQueryCache({ cache: newCache(), db })
      await expect(queries.identity()).rejects.toThrow(DatabaseIdentityError)
      failing = false
      const identities = await Promise.all(Array.from({ length: 5 }, () => queries.identity()))
      expect(new Set(identities).size).toBe(1)
      expect(await queries.identity()).toBe(identities[0])
      expect(probes).toBe(2)
    })

    it('runs the SQL once for 20 concurrent identical queries', async () => {
      const t = await table()
      const { queries, calls } = setup()
      const sql = `SELECT count(*)::int AS n, pg_sleep(0.2)::text AS s FROM ${t}`
      const results = await Promise.all(Array.from({ length: 20 }, () => queries.query(sql)))
      expect(calls).toHaveLength(1)
      for (const rows of results) expect(rows).toEqual([{ n: 3, s: '' }])
    })

    it('sees a new row after invalidateTables, and not before', async () => {
      const t = await table()
      const { queries, calls } = setup()
      const sql = `SELECT id FROM ${t} ORDER BY id`
      expect(await queries.query(sql)).toHaveLength(3)
      await database.sql(`INSERT INTO ${t} (id, label) VALUES (4, 'new')`)
      expect(await queries.query(sql)).toHaveLength(3) // cached: the write went around the cache
      await queries.invalidateTables([`public.${t.toUpperCase()}`])
      expect(await queries.query(sql)).toHaveLength(4)
      expect(calls).toHaveLength(2)
    })

    it('tags a query with the tables inside its CTE, so a write to them invalidates it (drizzle #4677)', async () => {
      const orders = await table()
      const other = await table()
      const { queries, calls } = setup()
      const report = `WITH recent AS (SELECT * FROM ${orders} WHERE id > 1) SELECT count(*)::int AS n FROM recent`
      const unrelated = `SELECT count(*)::int AS n FROM ${other}`
      expect(await queries.query(report)).toEqual([{ n: 2 }])
      expect(await queries.query(unrelated)).toEqual([{ n: 3 }])

      const inserted = await queries.execute(
        `INSERT INTO ${orders} (id, label) VALUES (:id, :label) RETURNING id`,
        {
          id: 10,
          label: 'z',
        },
      )
      expect(inserted).toEqual({ rows: [{ id: 10 }], rowCount: 1 })
      expect(await queries.query(report)).toEqual([{ n: 3 }])
      expect(await queries.query(unrelated)).toEqual([{ n: 3 }])
      // report twice + unrelated once + the INSERT: the unrelated query stayed cached.
      expect(calls).toHaveLength(4)
    })

    it('execute() invalidates after the statement has settled, and the tables named in `invalidates`', async () => {
      const t = await table()
      const view = await table()
      const { queries, cache } = setup()
      const order: string[] = []
      const listener = (event: CacheEvents['invalidate']) => order.push(`invalidate ${event.tags?.join(',')}`)
      cache.on('invalidate', listener)
      const db = database.db
      const original = db.query.bind(db)
      const spied = createQueryCache({
        cache,
        db: {
          query: async (text: string, values?: unknown[]) => {
            order.push('statement start')
            const result = await original(text, values)
            order.push('statement end')
            return result
          },
        },
      })
      await spied.execute(`UPDATE ${t} SET note = 'n' WHERE id = 1`, undefined, { invalidates: [view] })
      expect(order).toEqual(['statement start', 'statement end', `invalidate table:${t},table:${view}`])
      cache.off('invalidate', listener)
      await expect(queries.query(`UPDATE ${t} SET note = 'n'`)).rejects.toThrow(MutationInQueryError)
    })

    it('transaction(): invalidates the tables written inside after COMMIT, nothing on ROLLBACK', async () => {
      const t = await table()
      const { queries, cache, calls } = setup()
      const sql = `SELECT count(*)::int AS n FROM ${t}`
      expect(await queries.query(sql)).toEqual([{ n: 3 }])
      const invalidations: string[] = []
      cache.on('invalidate', (event) => invalidations.push(...(event.tags ?? [])))

      await expect(
        queries.transaction(async (tx) => {
          await tx.execute(`INSERT INTO ${t} (id, label) VALUES (20, 'r')`)
          throw new Error('changed my mind')
        }),
      ).rejects.toThrow('changed my mind')
      expect(invalidations).toEqual([])
      expect(await queries.query(sql)).toEqual([{ n: 3 }])

      const result = await queries.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${t} (id, label) VALUES (21, 'c')`)
        const inside = await tx.query<{ n: number }>(sql)
        // Not yet: the cache must not be invalidated before the COMMIT.
        expect(invalidations).toEqual([])
        return inside[0]!.n
      })
      expect(result).toBe(4)
      expect(invalidations).toEqual([`table:${t}`])
      expect(await queries.query(sql)).toEqual([{ n: 4 }])
      expect(calls.filter((text) => text === sql)).toHaveLength(2)
    })

    it('invalidate(sql, params) drops that one query', async () => {
      const t = await table()
      const { queries, calls } = setup()
      const sql = `SELECT label FROM ${t} WHERE id = $1`
      await queries.query(sql, [1])
      await queries.query(sql, [2])
      expect(await queries.invalidate(sql, [1])).toBe(true)
      await queries.query(sql, [1])
      await queries.query(sql, [2])
      expect(calls).toHaveLength(3)
    })

    it('warmUp() fills the cache, counting failures instead of throwing', async () => {
      const t = await table()
      const { queries, calls } = setup()
      const warm = await queries.warmUp([
        { sql: `SELECT * FROM ${t} WHERE id = :id`, params: { id: 1 } },
        { sql: `SELECT * FROM no_such_table_${n}` },
        { sql: `SELECT count(*) FROM ${t}`, ttl: '10m', tags: ['dashboard'] },
      ])
      expect(warm).toMatchObject({ warmed: 2, failed: 1 })
      expect(warm.errors.map((e) => e.index)).toEqual([1])
      expect(warm.durationMs).toBeGreaterThanOrEqual(0)
      await queries.query(`SELECT * FROM ${t} WHERE id = :id`, { id: 1 })
      await queries.query(`SELECT count(*) FROM ${t}`)
      expect(calls).toHaveLength(3)
      await queries.invalidateTags(['dashboard'])
      await queries.query(`SELECT count(*) FROM ${t}`)
      expect(calls).toHaveLength(4)
    })

    it("reports seed 003's stats and the queries that saved the most database time", async () => {
      const t = await table()
      const { queries } = setup()
      const slow = `SELECT pg_sleep(0.05)::text, id FROM ${t}`
      const fast = `SELECT id FROM ${t}`
      await queries.query(slow)
      for (let i = 0; i < 3; i++) await queries.query(slow)
      await queries.query(fast)
      await queries.query(fast)
      const stats = queries.stats()
      expect(stats).toMatchObject({ hits: 4, misses: 2, hitRatio: 4 / 6 })
      expect(stats.avgQueryTimeMs).toBeGreaterThan(0)
      expect(stats.avgCacheTimeMs).toBeGreaterThanOrEqual(0)
      expect(stats.topQueries.map((q) => [q.sql, q.hits, q.misses])).toEqual([
        [`select pg_sleep ( 0.05 ) :: text , id from ${t}`, 3, 1],
        [`select id from ${t}`, 1, 1],
      ])
      const top = stats.topQueries[0]!
      expect(top.avgQueryTimeMs).toBeGreaterThanOrEqual(50)
      expect(top.savedMs).toBeCloseTo(3 * top.avgQueryTimeMs)
      expect(top.key).toBe(await queries.key(slow))
      queries.resetStats()
      expect(queries.stats()).toMatchObject({ hits: 0, misses: 0, hitRatio: 0, topQueries: [] })
    })

    it('cachedQuery() caches a function by its arguments, and `tables` lets writes invalidate it', async () => {
      const t = await table()
      const { queries } = setup()
      let runs = 0
      const labels = cachedQuery(
        queries,
        async function labelsOf(ids: number[]) {
          runs++
          return database.sql<{ label: string }>(`SELECT label FROM ${t} WHERE id = ANY($1) ORDER BY id`, [
            ids,
          ])
        },
        { tables: [t] },
      )
      expect(await labels([1, 3])).toEqual([{ label: 'X' }, { label: 'y' }])
      expect(await labels([1, 3])).toEqual([{ label: 'X' }, { label: 'y' }])
      expect(runs).toBe(1)
      await labels([2])
      expect(runs).toBe(2)
      await queries.execute(`UPDATE ${t} SET label = 'changed' WHERE id = 1`)
      expect(await labels([1, 3])).toEqual([{ label: 'changed' }, { label: 'y' }])
      expect(runs).toBe(3)
      expect(() => cachedQuery(queries, async () => 1)).toThrow(InvalidOptionError)
    })

    it('stores a large result compressed by the engine and reads it back intact', async () => {
      const t = `big_${n++}`
      await database.sql(
        `CREATE TABLE ${t} AS SELECT g AS id, repeat('row ' || g, 5) AS text, g::bigint * 1000000007 AS big FROM generate_series(1, 3000) g`,
      )
      const { queries, cache } = setup()
      const sql = `SELECT * FROM ${t} ORDER BY id`
      const rows = await queries.query(sql)
      expect(rows).toHaveLength(3000)
      const details = await waitForEntry(cache, await queries.key(sql))
      expect(details.compressed).toBe(true)
      const other = setup(newCache(cache.prefix))
      expect(await other.queries.query(sql)).toEqual(rows)
      expect(other.calls).toHaveLength(0)
    })

    it('rejects a bad namespace and a db without query()', () => {
      const cache = newCache()
      expect(() => createQueryCache({ cache, db: database.db, namespace: 'a:b' })).toThrow(InvalidOptionError)
      expect(() => createQueryCache({ cache, db: {} as never })).toThrow(InvalidOptionError)
    })
  })
}

/** The engine writes to Redis in the background after answering: wait (bounded) for the entry. */
async function waitForEntry(cache: CacheApi, key: string) {
  for (let i = 0; i < 100; i++) {
    const details = await cache.inspect(key)
    if (details) return details
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`${key} never reached Redis`)
}
