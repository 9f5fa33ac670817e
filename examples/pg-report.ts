/**
 * Seed 003's report through the SQL query cache: `npx tsx examples/pg-report.ts`.
 * Uses PGlite in memory (no server needed) and REDIS_URL if set, else an L1-only cache.
 * Prints the uncached and cached timings, then shows an INSERT invalidating the report.
 */
import { PGlite } from '@electric-sql/pglite'
import { createCache } from 'cachet'
import { createQueryCache } from 'cachet/sql'

const db = new PGlite()
await db.exec(`
  CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, status text, total numeric, created_at timestamptz);
  INSERT INTO orders (customer_id, status, total, created_at)
    SELECT g % 5000, CASE WHEN g % 10 = 0 THEN 'cancelled' ELSE 'completed' END, (g % 997) * 1.25,
           now() - (g % 60) * interval '1 day'
      FROM generate_series(1, 200000) g;
`)

const cache = createCache({ redis: process.env.REDIS_URL ?? false, logger: false })
const queries = createQueryCache({ cache, db })
const report = `
  SELECT date_trunc('day', created_at) AS day, count(*) AS orders, sum(total) AS revenue
    FROM orders
   WHERE created_at >= now() - :days * interval '1 day' AND status = 'completed'
   GROUP BY 1 ORDER BY 1 DESC`

for (const label of ['first call (database)', 'second call (cache)']) {
  const started = performance.now()
  const rows = await queries.query(report, { days: 30 })
  console.log(`${label}: ${rows.length} rows in ${(performance.now() - started).toFixed(1)} ms`)
}

// A write through the cache invalidates every cached query reading `orders`, after it commits.
await queries.execute(
  `INSERT INTO orders (customer_id, status, total, created_at) VALUES (1, 'completed', 99, now())`,
)
const started = performance.now()
await queries.query(report, { days: 30 })
console.log(`after an INSERT: recomputed in ${(performance.now() - started).toFixed(1)} ms`)
console.log(queries.stats())

await cache.close()
await db.close()
