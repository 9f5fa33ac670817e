import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache } from '../../src/index.js'
import {
  createQueryCache,
  MutationInQueryError,
  type QueryCache,
  UncacheableQueryError,
} from '../../src/sql/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { analysers } from './helpers/analysers.js'
import { type Backend, backends, counting, type TestDatabase, warnSkipped } from './helpers/databases.js'

type Verdict = 'cached' | typeof MutationInQueryError | typeof UncacheableQueryError

/** query() caches a read whose result it may reuse, and refuses anything else before it reaches the database. */
const STATEMENTS: Array<[string, Verdict]> = [
  ['SELECT * FROM t ORDER BY id', 'cached'],
  ['(SELECT a FROM t) UNION (SELECT 7) ORDER BY 1', 'cached'],
  ['WITH x AS (SELECT * FROM t) SELECT count(*) FROM x', 'cached'],
  ['VALUES (1), (2)', 'cached'],
  ['TABLE t', 'cached'],
  ['EXPLAIN (COSTS OFF) SELECT * FROM t', 'cached'],
  ['SELECT now() - now() AS zero, current_date - current_date AS none', 'cached'],
  ["SELECT substring('abcdef' FROM 2 FOR 3) AS s, pg_sleep(0)::text AS slept", 'cached'],
  ["SELECT 'nextval(''s'') FOR UPDATE INTO x' AS text, $$set_config$$ AS body", 'cached'],
  ['SELECT id FROM t WHERE id IN (SELECT id FROM t FOR UPDATE)', MutationInQueryError],
  ["SELECT nextval('s')", MutationInQueryError],
  ["SELECT pg_catalog.nextval('s')", MutationInQueryError],
  [`SELECT "nextval"('s')`, MutationInQueryError],
  [`SELECT U&"\\006Eextval"('s')`, MutationInQueryError],
  [`SELECT U&"!006Eextval" UESCAPE '!' ('s')`, MutationInQueryError],
  ["SELECT setval('s', 40)", MutationInQueryError],
  ["SELECT * FROM t, nextval('s') AS n", MutationInQueryError],
  ['SELECT * INTO t_copy FROM t', MutationInQueryError],
  ['CREATE TABLE t_as AS SELECT * FROM t', MutationInQueryError],
  ['SET search_path TO other', MutationInQueryError],
  ["SELECT set_config('search_path', 'other', false)", MutationInQueryError],
  ['CALL p()', MutationInQueryError],
  ['DO $$ BEGIN DELETE FROM t; END $$', MutationInQueryError],
  ['SELECT * FROM t FOR UPDATE', MutationInQueryError],
  ['SELECT * FROM t FOR NO KEY UPDATE', MutationInQueryError],
  ['SELECT * FROM t FOR SHARE', MutationInQueryError],
  ['SELECT * FROM t FOR KEY SHARE SKIP LOCKED', MutationInQueryError],
  ['GRANT SELECT ON t TO PUBLIC', MutationInQueryError],
  ['COPY t TO STDOUT', MutationInQueryError],
  ['LOCK TABLE t', MutationInQueryError],
  ['LISTEN channel', MutationInQueryError],
  ["NOTIFY channel, 'x'", MutationInQueryError],
  ["SELECT pg_notify('channel', 'x')", MutationInQueryError],
  ['SELECT pg_advisory_lock(1)', MutationInQueryError],
  ['SELECT pg_try_advisory_xact_lock(1)', MutationInQueryError],
  ['SELECT lo_create(0)', MutationInQueryError],
  ["SELECT lo_import('/etc/hostname')", MutationInQueryError],
  ["SELECT dblink_exec('dbname=x', 'DELETE FROM t')", MutationInQueryError],
  ['SELECT txid_current()', MutationInQueryError],
  ['SELECT pg_current_xact_id()', MutationInQueryError],
  ['SELECT setseed(0.5)', MutationInQueryError],
  ['WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone', MutationInQueryError],
  ['EXPLAIN ANALYZE SELECT * FROM t', MutationInQueryError],
  ['EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM t', MutationInQueryError],
  ['EXPLAIN INSERT INTO t VALUES (9, 9)', MutationInQueryError],
  ['SHOW search_path', MutationInQueryError],
  ['VACUUM t', MutationInQueryError],
  ['SELECT 1; DELETE FROM t', MutationInQueryError],
  ['SELECT random()', UncacheableQueryError],
  ['SELECT * FROM t ORDER BY random() LIMIT 1', UncacheableQueryError],
  ['SELECT clock_timestamp()', UncacheableQueryError],
  ['SELECT timeofday()', UncacheableQueryError],
  ['SELECT gen_random_uuid()', UncacheableQueryError],
  ["SELECT currval('s')", UncacheableQueryError],
  ['SELECT * FROM t TABLESAMPLE BERNOULLI (50)', UncacheableQueryError],
]

for (const { name, analyze } of analysers)
  describe(`the read verdict by ${name}`, () => {
    const cacheable = (sql: string) => analyze(sql).verdict.cacheable
    it.each(STATEMENTS)('%s', (sql, verdict) => {
      const found = analyze(sql).verdict
      if (verdict === 'cached') expect(found).toEqual({ cacheable: true })
      else expect(found).toMatchObject({ cacheable: false, effects: verdict === MutationInQueryError })
    })

    it('needs every statement of a multi-statement text to be a read, and at least one', () => {
      expect(cacheable('SELECT 1; SELECT 2;')).toBe(true)
      expect(cacheable('SELECT 1; SET search_path TO other')).toBe(false)
      expect(cacheable('SELECT 1; (SELECT nextval($$s$$))')).toBe(false)
      expect(cacheable('')).toBe(false)
      expect(cacheable(' ; -- nothing')).toBe(false)
    })

    it('reads EXPLAIN options in both syntaxes, and explains only reads', () => {
      expect(cacheable('EXPLAIN VERBOSE SELECT 1')).toBe(true)
      expect(cacheable('EXPLAIN (FORMAT JSON, COSTS OFF) (SELECT 1)')).toBe(true)
      expect(cacheable('EXPLAIN ANALYSE VERBOSE SELECT 1')).toBe(false)
      expect(cacheable('EXPLAIN CREATE TABLE x AS SELECT 1')).toBe(false)
    })
  })

let redis: TestRedis
const caches: CacheApi[] = []
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()))
  await redis.stop()
})

for (const backend of backends) defineSuite(backend)

function defineSuite(backend: Backend) {
  warnSkipped(backend)
  describe.skipIf(backend.unavailable !== undefined)(`query() allows only reads on ${backend.name}`, () => {
    let database: TestDatabase
    let queries: QueryCache
    let calls: string[]
    beforeAll(async () => {
      database = await backend.open()
      await database.sql('CREATE TABLE t (id int PRIMARY KEY, a int)')
      await database.sql('INSERT INTO t VALUES (1, 10), (2, 20)')
      await database.sql('CREATE SEQUENCE s')
      const cache = createCache({ redis: redis.url, prefix: `readonly-${backend.name}`, logger: false })
      caches.push(cache)
      const counted = counting(database.db)
      queries = createQueryCache({ cache, db: counted.db })
      calls = counted.calls
    })
    afterAll(async () => {
      await database?.close()
    })

    for (const [sql, verdict] of STATEMENTS) {
      it(`${verdict === 'cached' ? 'caches' : `refuses (${verdict.name})`}: ${sql}`, async () => {
        calls.length = 0
        if (verdict === 'cached') {
          const first = await queries.query(sql)
          expect(await queries.query(sql)).toEqual(first)
          expect(calls).toHaveLength(1)
        } else {
          const error = await queries.query(sql).then(
            () => undefined,
            (thrown: unknown) => thrown,
          )
          expect(error).toBeInstanceOf(UncacheableQueryError)
          expect((error as Error).constructor).toBe(verdict)
          expect((error as Error).message).toMatch(/use execute\(\)/)
          expect(calls).toEqual([])
        }
      })
    }

    it('lost nothing: the table, the sequence and the session are as they were', async () => {
      expect(await database.sql('SELECT id, a FROM t ORDER BY id')).toEqual([
        { id: 1, a: 10 },
        { id: 2, a: 20 },
      ])
      expect(await database.sql('SELECT last_value, is_called FROM s')).toMatchObject([{ is_called: false }])
      expect(await database.sql("SELECT to_regclass('t_copy') AS copy, to_regclass('t_as') AS t_as")).toEqual(
        [{ copy: null, t_as: null }],
      )
      expect(await database.sql("SELECT current_setting('search_path') AS path")).not.toEqual([
        { path: 'other' },
      ])
    })

    it('every refused statement still runs through execute()', async () => {
      const { rows } = await queries.execute("SELECT nextval('s') AS n")
      expect(rows).toEqual([{ n: backend.name === 'PGlite' ? 1 : '1' }])
    })
  })
}
