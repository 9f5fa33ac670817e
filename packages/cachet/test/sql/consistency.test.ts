import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache } from '../../src/index.js'
import { createQueryCache, type Queryable } from '../../src/sql/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { type Backend, backends, type TestDatabase, warnSkipped } from './helpers/databases.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

let n = 0
function newCache(prefix: string): CacheApi {
  return createCache({ redis: redis.url, prefix, logger: false })
}

function deferred() {
  let resolve!: () => void
  const promise = new Promise<void>((done) => {
    resolve = done
  })
  return { promise, resolve }
}

for (const backend of backends) defineSuite(backend)

function defineSuite(backend: Backend) {
  warnSkipped(backend)
  describe.skipIf(backend.unavailable !== undefined)(`consistency on ${backend.name}`, () => {
    let database: TestDatabase
    beforeAll(async () => {
      database = await backend.open()
    })
    afterAll(async () => {
      await database?.close()
    })

    async function versionedTable(): Promise<string> {
      const t = `doc_${n++}`
      await database.sql(`CREATE TABLE ${t} (id int PRIMARY KEY, v text)`)
      await database.sql(`INSERT INTO ${t} VALUES (1, 'v1')`)
      return t
    }

    it('a load that read v1 before a committed write + invalidation is neither cached nor joined afterwards', async () => {
      const t = await versionedTable()
      const sql = `SELECT v FROM ${t} WHERE id = 1`
      const readDone = deferred()
      const release = deferred()
      let holdNext = true
      // The loader reads v1, then stalls before returning it (as a slow network or GC pause would).
      const db: Queryable = {
        query: async (text, values) => {
          const result = await database.db.query(text, values)
          if (text === sql && holdNext) {
            holdNext = false
            readDone.resolve()
            await release.promise
          }
          return result
        },
      }
      const prefix = `c3same${n++}`
      const cache = newCache(prefix)
      const queries = createQueryCache({ cache, db })

      const first = queries.query(sql)
      await readDone.promise
      await queries.execute(`UPDATE ${t} SET v = 'v2' WHERE id = 1`)
      // Issued after the invalidation completed, while the old load still runs: must not join it.
      const second = queries.query(sql)
      await new Promise((resolve) => setImmediate(resolve))
      release.resolve()

      expect(await first).toEqual([{ v: 'v1' }]) // it started before the write: v1 is a fair answer
      expect(await second).toEqual([{ v: 'v2' }])
      expect(await queries.query(sql)).toEqual([{ v: 'v2' }])
      queries.close()
      await cache.close() // waits for the background write-backs

      const fresh = newCache(prefix)
      expect(await createQueryCache({ cache: fresh, db: database.db }).query(sql)).toEqual([{ v: 'v2' }])
      await fresh.close()
    })

    it.skipIf(backend.name !== 'PostgreSQL')(
      'C3: a REPEATABLE READ loader racing a commit + invalidation from another instance never leaves v1 served (20 rounds)',
      async () => {
        const pool = database.db as pg.Pool
        const t = await versionedTable()
        const sql = `SELECT v FROM ${t} WHERE id = 1`
        const prefix = `c3${n++}`
        const writerCache = newCache(prefix)
        const writer = createQueryCache({ cache: writerCache, db: pool })
        let stale = 0

        for (let round = 0; round < 20; round++) {
          const before = `old${round}`
          const after = `new${round}`
          await writer.execute(`UPDATE ${t} SET v = $1 WHERE id = 1`, [before])
          // Odd rounds: a cached entry exists, so the reader's write-back is checked against its version;
          // even rounds: the key is empty, so the tag epoch check does the work.
          if (round % 2 === 1) expect(await writer.query(sql)).toEqual([{ v: before }])

          const readDone = deferred()
          const release = deferred()
          let holdNext = true
          const readerDb: Queryable = {
            query: async (text, values) => {
              if (text !== sql || !holdNext) return pool.query(text, values)
              holdNext = false
              const client = await pool.connect()
              try {
                await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
                await client.query(text, values)
                readDone.resolve()
                await release.promise
                // Same snapshot: still the old value although the writer has committed by now.
                const result = await client.query(text, values)
                await client.query('COMMIT')
                return result
              } finally {
                client.release()
              }
            },
          }
          const readerCache = newCache(prefix)
          const reader = createQueryCache({ cache: readerCache, db: readerDb })
          const loading = reader.query(sql, undefined, { forceRefresh: round % 2 === 1 })
          await readDone.promise
          await writer.execute(`UPDATE ${t} SET v = $1 WHERE id = 1`, [after])
          release.resolve()
          expect(await loading).toEqual([{ v: before }])
          reader.close()
          await readerCache.close() // the reader's write-back has run (or been refused) after this

          const observer = newCache(prefix)
          const seen = [
            await writer.query<{ v: string }>(sql),
            await createQueryCache({ cache: observer, db: pool }).query<{ v: string }>(sql),
          ]
          await observer.close()
          stale += seen.filter((rows) => rows[0]?.v !== after).length
        }
        expect(stale).toBe(0)
        writer.close()
        await writerCache.close()
      },
    )
  })
}
