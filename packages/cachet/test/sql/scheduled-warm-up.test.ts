import { PGlite } from '@electric-sql/pglite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache, InvalidOptionError } from '../../src/index.js'
import type { Queryable } from '../../src/sql/index.js'
import { createQueryCache, scheduleWarmUp } from '../../src/sql/index.js'

const db = new PGlite()
// Starting PGlite takes seconds on a busy machine: not part of any run measured here.
beforeAll(() => db.query('SELECT 1'), 60_000)
afterAll(() => db.close())

/** The database, counting the statements running at once and the most ever seen. */
function concurrency(target: Queryable) {
  const seen = { now: 0, max: 0, total: 0 }
  const wrapped = new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object)
      if (property !== 'query') return typeof value === 'function' ? value.bind(object) : value
      return async (text: string, values?: unknown[]) => {
        if (text.includes('pg_sleep')) {
          seen.now++
          seen.total++
          seen.max = Math.max(seen.max, seen.now)
        }
        try {
          return await (value as Queryable['query']).call(object, text, values)
        } finally {
          if (text.includes('pg_sleep')) seen.now--
        }
      }
    },
  })
  return { db: wrapped, seen }
}

describe('scheduleWarmUp (seed 003 §5.1)', () => {
  it('warms at once, then again `every` after each run ends — never two runs at once — until stopped', async () => {
    const { db: counted, seen } = concurrency(db)
    const cache = createCache({ redis: false, logger: false })
    const queries = createQueryCache({ cache, db: counted })
    // Each run takes 1.2 s, longer than `every`: a timer-per-interval schedule would overlap them.
    const slow = { sql: 'SELECT pg_sleep(1.2)::text AS slept, 42 AS answer' }
    const results: Array<{ warmed: number; durationMs: number; endedAt: number }> = []
    const schedule = scheduleWarmUp(queries, [slow], {
      every: '1s',
      onRun: ({ warmed, durationMs }) => results.push({ warmed, durationMs, endedAt: performance.now() }),
    })
    await expect.poll(() => schedule.runs, { timeout: 30_000, interval: 50 }).toBe(2)
    await schedule.stop()
    expect(seen.max).toBe(1)
    expect(results.map((result) => result.warmed)).toEqual([1, 1])
    // The second run started `every` after the first ended (a fixed interval would start it sooner).
    const [first, second] = results
    expect(second!.endedAt - first!.endedAt).toBeGreaterThanOrEqual(1_000 + second!.durationMs - 20)
    expect(schedule.last).toMatchObject({ warmed: 1, failed: 0 })
    // The warmed result is served from the cache: no new run of the SQL.
    const before = seen.total
    expect(await queries.query(slow.sql)).toEqual([{ slept: '', answer: 42 }])
    expect(seen.total).toBe(before)
    // Stopped: no run after it.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(schedule.runs).toBe(2)
    await cache.close()
  }, 60_000)

  it('counts failures without stopping, and refuses a bad period', async () => {
    const cache = createCache({ redis: false, logger: false })
    const queries = createQueryCache({ cache, db })
    const schedule = scheduleWarmUp(queries, [{ sql: 'SELECT * FROM no_such_table' }], {
      every: '1s',
      onRun: () => {
        throw new Error('a broken callback')
      },
    })
    await expect.poll(() => schedule.runs, { timeout: 30_000, interval: 50 }).toBe(2)
    await schedule.stop()
    expect(schedule.last).toMatchObject({ warmed: 0, failed: 1 })
    expect(() => scheduleWarmUp(queries, [], { every: '10ms' })).toThrow(InvalidOptionError)
    expect(() => scheduleWarmUp(queries, [], { every: 'soon' as never })).toThrow(InvalidOptionError)
    await cache.close()
  }, 60_000)
})
