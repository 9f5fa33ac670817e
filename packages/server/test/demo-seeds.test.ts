import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, openDatabase } from '../src/database.js'
import { seedCatalog } from '../src/demo-catalog-data.js'
import { seedLogs } from '../src/demo-data.js'
import { seedShop } from '../src/demo-shop-data.js'
import { DEMO_USERS, seedUsers } from '../src/demo-user-data.js'

let db: Database
beforeAll(async () => {
  db = await openDatabase()
})
afterAll(async () => {
  await db.close()
})

describe('demo seeds', () => {
  it('fill empty tables, then leave tables that hold rows as they are', async () => {
    const seeds = [
      () => seedLogs(db, 500),
      () => seedShop(db, 400),
      () => seedUsers(db),
      () => seedCatalog(db),
    ]
    const first = []
    for (const seed of seeds) first.push(await seed())
    expect(first.map((result) => result.created)).toEqual([true, true, true, true])
    expect(first.map((result) => result.rows).slice(0, 3)).toEqual([500, 400, DEMO_USERS])
    await db.query('DELETE FROM logs WHERE id > 100')
    const second = []
    for (const seed of seeds) second.push(await seed())
    expect(second.map((result) => result.created)).toEqual([false, false, false, false])
    // What the tables hold now, not what a seed would have written.
    expect(second.map((result) => result.rows)).toEqual([100, 400, DEMO_USERS, first[3]!.rows])
    for (const result of [...first, ...second]) expect(result.durationMs).toBeGreaterThanOrEqual(0)
  }, 60_000)
})
