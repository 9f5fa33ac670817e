import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache, InvalidOptionError } from '../../src/index.js'
import { cachedQuery, createQueryCache, DatabaseIdentityError, type Queryable } from '../../src/sql/index.js'
import { freePort, startRedis, type TestRedis } from '../helpers/redis-server.js'
import { backends, counting, type TestDatabase, warnSkipped } from './helpers/databases.js'

let redis: TestRedis
const caches: CacheApi[] = []
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()))
  await redis.stop()
})

let n = 0
function newCache(): CacheApi {
  const cache = createCache({ redis: redis.url, prefix: `tenants${n++}`, logger: false })
  caches.push(cache)
  return cache
}

async function invoices(sql: (text: string) => Promise<unknown>, customer: string): Promise<void> {
  await sql('CREATE TABLE invoices (id int PRIMARY KEY, customer text)')
  await sql(`INSERT INTO invoices VALUES (1, '${customer}')`)
}

const SELECT_INVOICES = 'SELECT * FROM invoices ORDER BY id'

describe('query caches of two PGlite databases on one engine', () => {
  let dbA: PGlite
  let dbB: PGlite
  async function tenant(customer: string): Promise<PGlite> {
    const db = new PGlite()
    await invoices((text) => db.query(text), customer)
    return db
  }
  beforeAll(async () => {
    dbA = await tenant('alice corp')
    dbB = await tenant('bob ltd')
  })
  afterAll(async () => {
    await Promise.all([dbA?.close(), dbB?.close()])
  })

  it("never gives tenant B tenant A's rows, with default options", async () => {
    const cache = newCache()
    const a = createQueryCache({ cache, db: dbA })
    const b = createQueryCache({ cache, db: dbB })
    expect(await a.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'alice corp' }])
    expect(await b.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'bob ltd' }])
    expect(await a.key(SELECT_INVOICES)).not.toBe(await b.key(SELECT_INVOICES))
  })

  it('keeps functions cached by cachedQuery() apart too', async () => {
    const cache = newCache()
    const customerOf = (db: PGlite) =>
      cachedQuery(
        createQueryCache({ cache, db }),
        async function customer(id: number) {
          return (await db.query<{ customer: string }>('SELECT customer FROM invoices WHERE id = $1', [id]))
            .rows
        },
        { tables: ['invoices'] },
      )
    expect(await customerOf(dbA)(1)).toEqual([{ customer: 'alice corp' }])
    expect(await customerOf(dbB)(1)).toEqual([{ customer: 'bob ltd' }])
  })

  it('shares entries between query caches of one PGlite instance', async () => {
    const cache = newCache()
    const first = counting(dbA)
    const second = counting(dbA)
    await createQueryCache({ cache, db: first.db }).query(SELECT_INVOICES)
    expect(await createQueryCache({ cache, db: second.db }).query(SELECT_INVOICES)).toEqual([
      { id: 1, customer: 'alice corp' },
    ])
    expect(first.calls).toHaveLength(1)
    expect(second.calls).toEqual([])
  })

  it('uses an explicit identity instead, shared by whoever passes the same one', async () => {
    const cache = newCache()
    const a = createQueryCache({ cache, db: dbA, identity: 'tenant-a' })
    const alsoA = createQueryCache({ cache, db: dbB, identity: 'tenant-a' })
    const b = createQueryCache({ cache, db: dbB, identity: 'tenant-b' })
    expect(await a.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'alice corp' }])
    expect(await alsoA.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'alice corp' }])
    expect(await b.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'bob ltd' }])
    expect(() => createQueryCache({ cache, db: dbA, identity: '' })).toThrow(InvalidOptionError)
  })

  it("a write in tenant A refreshes A's queries (and also drops B's: table tags are shared)", async () => {
    const cache = newCache()
    const a = createQueryCache({ cache, db: dbA })
    const countedB = counting(dbB)
    const b = createQueryCache({ cache, db: countedB.db })
    await a.query(SELECT_INVOICES)
    await b.query(SELECT_INVOICES)
    expect(countedB.calls).toHaveLength(1)
    await a.execute("UPDATE invoices SET customer = 'alice inc' WHERE id = 1")
    expect(await a.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'alice inc' }])
    expect(await b.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'bob ltd' }])
    expect(countedB.calls).toHaveLength(2)
    await dbA.query("UPDATE invoices SET customer = 'alice corp' WHERE id = 1")
  })
})

const postgres = backends.find((backend) => backend.name === 'PostgreSQL')!
warnSkipped(postgres)
describe.skipIf(postgres.unavailable !== undefined)('query caches on one PostgreSQL server', () => {
  let server: TestDatabase
  const pools: pg.Pool[] = []
  function pool(database: string, options: { user?: string; searchPath?: string } = {}): pg.Pool {
    const url = new URL(server.url!)
    url.pathname = `/${database}`
    if (options.user) url.username = options.user
    const created = new pg.Pool({
      connectionString: url.toString(),
      max: 2,
      options: options.searchPath ? `-c search_path=${options.searchPath}` : undefined,
    })
    pools.push(created)
    return created
  }
  const run = (db: Queryable) => (text: string) => db.query(text)
  beforeAll(async () => {
    server = await postgres.open()
    await server.sql('CREATE DATABASE tenant_a')
    await server.sql('CREATE DATABASE tenant_b')
    await invoices(run(pool('tenant_a')), 'alice corp')
    await invoices(run(pool('tenant_b')), 'bob ltd')
    // One database, two schemas chosen by search_path, and a role with row-level security.
    const shared = pool('postgres')
    for (const schema of ['schema_a', 'schema_b']) {
      await shared.query(`CREATE SCHEMA ${schema}`)
      await shared.query(`CREATE TABLE ${schema}.invoices (id int PRIMARY KEY, customer text)`)
      await shared.query(`INSERT INTO ${schema}.invoices VALUES (1, '${schema}')`)
    }
    await shared.query('CREATE ROLE clerk LOGIN')
    await shared.query('GRANT USAGE ON SCHEMA schema_a TO clerk')
    await shared.query('GRANT SELECT ON schema_a.invoices TO clerk')
    await shared.query('ALTER TABLE schema_a.invoices ENABLE ROW LEVEL SECURITY')
    await shared.query("CREATE POLICY only_own ON schema_a.invoices USING (customer = 'nobody')")
  })
  afterAll(async () => {
    await Promise.all(pools.map((created) => created.end()))
    await server?.close()
  })

  it("never gives tenant B's database tenant A's rows", async () => {
    const cache = newCache()
    const a = createQueryCache({ cache, db: pool('tenant_a') })
    const b = createQueryCache({ cache, db: pool('tenant_b') })
    expect(await a.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'alice corp' }])
    expect(await b.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'bob ltd' }])
  })

  it('keeps search_paths and roles of one database apart', async () => {
    const cache = newCache()
    const a = createQueryCache({ cache, db: pool('postgres', { searchPath: 'schema_a' }) })
    const b = createQueryCache({ cache, db: pool('postgres', { searchPath: 'schema_b' }) })
    const clerk = createQueryCache({ cache, db: pool('postgres', { searchPath: 'schema_a', user: 'clerk' }) })
    expect(await a.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'schema_a' }])
    expect(await b.query(SELECT_INVOICES)).toEqual([{ id: 1, customer: 'schema_b' }])
    expect(await clerk.query(SELECT_INVOICES)).toEqual([])
  })

  it('without pg_control_system(), tells servers apart by address, port and start time', async () => {
    const cache = newCache()
    // Function privileges are per database.
    const owners = [pool('tenant_a'), pool('tenant_b')]
    const everywhere = (sql: string) => Promise.all(owners.map((owner) => owner.query(sql)))
    await everywhere('REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC')
    try {
      const a = createQueryCache({ cache, db: pool('tenant_a', { user: 'clerk' }) })
      const b = createQueryCache({ cache, db: pool('tenant_b', { user: 'clerk' }) })
      const sql = 'SELECT current_database() AS db'
      expect(await a.query(sql)).toEqual([{ db: 'tenant_a' }])
      expect(await b.query(sql)).toEqual([{ db: 'tenant_b' }])
      expect(await a.identity()).toContain('"started"')
      const again = counting(pool('tenant_a', { user: 'clerk' }))
      expect(await createQueryCache({ cache, db: again.db }).query(sql)).toEqual([{ db: 'tenant_a' }])
      expect(again.calls).toEqual([])
    } finally {
      await everywhere('GRANT EXECUTE ON FUNCTION pg_control_system() TO PUBLIC')
    }
  })

  it('throws a typed error when the database cannot be asked who it is; an identity option needs no probe', async () => {
    const cache = newCache()
    const url = new URL(server.url!)
    url.port = String(await freePort())
    const unreachable = new pg.Pool({ connectionString: url.toString(), connectionTimeoutMillis: 2_000 })
    pools.push(unreachable)
    await expect(createQueryCache({ cache, db: unreachable }).query('SELECT 1 AS one')).rejects.toThrow(
      DatabaseIdentityError,
    )
    const sql = 'SELECT current_database() AS db'
    await createQueryCache({ cache, db: pool('tenant_a'), identity: 'a' }).query(sql)
    // The engine serves what it has without asking the database anything.
    expect(await createQueryCache({ cache, db: unreachable, identity: 'a' }).query(sql)).toEqual([
      { db: 'tenant_a' },
    ])
  })

  it('shares entries between two pools on the same database, role and search_path', async () => {
    const cache = newCache()
    await createQueryCache({ cache, db: pool('tenant_a') }).query(SELECT_INVOICES)
    const second = counting(pool('tenant_a'))
    expect(await createQueryCache({ cache, db: second.db }).query(SELECT_INVOICES)).toEqual([
      { id: 1, customer: 'alice corp' },
    ])
    expect(second.calls).toEqual([])
  })
})
