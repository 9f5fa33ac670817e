import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache, InvalidOptionError } from '../../src/index.js'
import { createQueryCache, installInvalidationTriggers, type QueryCache } from '../../src/sql/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type Backend, backends, counting, type TestDatabase, warnSkipped } from './helpers/databases.js'

const run = promisify(execFile)

let redis: TestRedis
const caches: CacheApi[] = []
const queryCaches: QueryCache[] = []
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await Promise.all(queryCaches.map((queries) => queries.close()))
  await Promise.all(caches.map((cache) => cache.close()))
  await redis.stop()
})

let n = 0
const POLL = { timeout: 5_000, interval: 20 }

for (const backend of backends) defineSuite(backend)

function defineSuite(backend: Backend) {
  warnSkipped(backend)
  describe.skipIf(backend.unavailable !== undefined)(`invalidation by triggers on ${backend.name}`, () => {
    let database: TestDatabase
    beforeAll(async () => {
      database = await backend.open()
    })
    afterAll(async () => {
      // The listeners hold pool connections: released before the pool ends.
      await Promise.all(queryCaches.splice(0).map((queries) => queries.close()))
      await database?.close()
    })

    /** Three fresh tables with one row each, watched by triggers; a listening query cache over them. */
    async function setup() {
      const [a, b, c] = [`a_${n}`, `b_${n}`, `c_${n++}`]
      for (const table of [a, b, c]) {
        await database.sql(`CREATE TABLE ${table} (id int PRIMARY KEY, label text)`)
        await database.sql(`INSERT INTO ${table} VALUES (1, 'one')`)
      }
      const installed = await installInvalidationTriggers(database.db, { tables: [a, b, c] })
      expect(installed).toEqual({ channel: 'cachet_invalidate', tables: [a, b, c] })
      const cache = createCache({ redis: redis.url, prefix: `trig${n}`, logger: false })
      caches.push(cache)
      const counted = counting(database.db)
      const queries = createQueryCache({ cache, db: counted.db })
      queryCaches.push(queries)
      await queries.listen()
      const reads = {
        a: `SELECT count(*)::int AS n FROM ${a}`,
        ab: `SELECT count(*)::int AS n FROM ${a} JOIN ${b} USING (id)`,
        c: `SELECT count(*)::int AS n FROM ${c}`,
      }
      for (const sql of Object.values(reads)) await queries.query(sql)
      expect(counted.calls).toHaveLength(3)
      return { a, b, c, queries, reads, calls: counted.calls }
    }

    /** Whether `sql` is answered from the cache now (it does not reach the database). */
    async function isCached(queries: QueryCache, calls: string[], sql: string): Promise<boolean> {
      const before = calls.length
      await queries.query(sql)
      return calls.length === before
    }

    it('a write that does not go through cachet invalidates every cached query reading the table, and only those', async () => {
      const { a, queries, reads, calls } = await setup()
      // Raw SQL on the database, not through the query cache: psql on PostgreSQL, db.query on PGlite.
      if (database.url)
        await run('psql', [database.url, '-v', 'ON_ERROR_STOP=1', '-c', `INSERT INTO ${a} VALUES (2, 'two')`])
      else await database.db.query(`INSERT INTO ${a} VALUES (2, 'two')`)
      await expect.poll(() => isCached(queries, calls, reads.a), POLL).toBe(false)
      expect(await queries.query(reads.a)).toEqual([{ n: 2 }])
      expect(await queries.query(reads.ab)).toEqual([{ n: 1 }])
      expect(await isCached(queries, calls, reads.c)).toBe(true)
      expect((await queries.health()).listener).toMatchObject({ state: 'listening', gaps: 0 })
      expect((await queries.health()).listener.notifications).toBeGreaterThanOrEqual(1)
    })

    it('invalidates only after the writing transaction commits, and not at all on rollback', async () => {
      const { a, b, queries, reads, calls } = await setup()
      const inTransaction = async (body: (sql: (text: string) => Promise<unknown>) => Promise<void>) => {
        if (!database.url) {
          await (database.db as PGlite).transaction((tx) => body((text) => tx.query(text)))
          return
        }
        const client = new pg.Client({ connectionString: database.url })
        await client.connect()
        try {
          await client.query('BEGIN')
          await body((text) => client.query(text))
          await client.query('COMMIT')
        } finally {
          await client.end()
        }
      }
      await inTransaction(async (sql) => {
        await sql(`DELETE FROM ${b}`)
        await new Promise((resolve) => setTimeout(resolve, 300))
        // Not committed: the cached rows are still the truth for every other session.
        expect(await isCached(queries, calls, reads.ab)).toBe(true)
      })
      await expect.poll(() => isCached(queries, calls, reads.ab), POLL).toBe(false)
      expect(await queries.query(reads.ab)).toEqual([{ n: 0 }])

      await inTransaction(async (sql) => {
        await sql(`INSERT INTO ${a} VALUES (3, 'three')`)
        await sql('SELECT 1/0').catch(() => {})
      }).catch(() => {})
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(await isCached(queries, calls, reads.a)).toBe(true)
    })

    it('TRUNCATE and UPDATE notify too; a statement touching no row as well (statement triggers)', async () => {
      const { a, c, queries, reads, calls } = await setup()
      await database.sql(`UPDATE ${c} SET label = 'x' WHERE false`)
      await expect.poll(() => isCached(queries, calls, reads.c), POLL).toBe(false)
      await database.sql(`TRUNCATE ${a}`)
      await expect.poll(() => isCached(queries, calls, reads.a), POLL).toBe(false)
      expect(await queries.query(reads.a)).toEqual([{ n: 0 }])
    })

    it('refuses a bad channel, an unknown table and a second listen() with a typed error', async () => {
      await expect(installInvalidationTriggers(database.db, { channel: 'Bad-Channel' })).rejects.toThrow(
        InvalidOptionError,
      )
      await expect(installInvalidationTriggers(database.db, { tables: ['no_such_table'] })).rejects.toThrow(
        InvalidOptionError,
      )
      await expect(
        installInvalidationTriggers(database.db, { tables: ["x'; DROP TABLE y; --"] }),
      ).rejects.toThrow(InvalidOptionError)
      const { queries } = await setup()
      await expect(queries.listen()).rejects.toThrow(InvalidOptionError)
      const custom = createQueryCache({ cache: caches[0]!, db: { query: async () => ({ rows: [] }) } })
      await expect(custom.listen()).rejects.toThrow(InvalidOptionError)
    })

    it.skipIf(backend.name !== 'PostgreSQL')(
      'comes back when its connection is killed, and drops what it may have missed',
      async () => {
        const { a, queries, reads, calls } = await setup()
        const killed = await database.sql<{ killed: boolean }>(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
            WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`,
        )
        expect(killed.length).toBeGreaterThanOrEqual(1)
        await expect.poll(async () => (await queries.health()).listener.gaps, POLL).toBe(1)
        expect((await queries.health()).listener.state).toBe('listening')
        // The gap dropped every entry: a write during it could not be heard.
        expect(await isCached(queries, calls, reads.c)).toBe(false)
        await queries.query(reads.a)
        await run('psql', [database.url!, '-c', `DELETE FROM ${a}`])
        await expect.poll(() => isCached(queries, calls, reads.a), POLL).toBe(false)
      },
    )
  })
}
