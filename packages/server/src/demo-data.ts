import type { Database } from './database.js'

/** What seeding found or did. */
export interface SeedResult {
  rows: number
  /** False when an external database already held the table and it was left as is. */
  created: boolean
  durationMs: number
}

/** The result for a table left as is because it already holds rows (an external DATABASE_URL); undefined when empty. */
export async function keptTable(
  db: Database,
  table: string,
  started: number,
): Promise<SeedResult | undefined> {
  const [existing] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)
  if (!existing || existing.n === 0) return undefined
  return { rows: existing.n, created: false, durationMs: performance.now() - started }
}

/** The result for tables this run filled with `rows`. */
export function seeded(rows: number, started: number): SeedResult {
  return { rows, created: true, durationMs: performance.now() - started }
}

/**
 * Creates and fills the `logs` table of seed 001's dashboard. Rows come from generate_series inside
 * one INSERT (300,000 rows take about 1.5 s in PGlite), spread evenly over the last 30 days, so the
 * 7 KPI queries scan the whole table and take a few hundred ms uncached. A table that already holds
 * rows (an external DATABASE_URL) is never touched.
 */
export async function seedLogs(db: Database, rows: number): Promise<SeedResult> {
  const started = performance.now()
  await db.query(`CREATE TABLE IF NOT EXISTS logs (
    id bigint PRIMARY KEY,
    ts timestamptz NOT NULL,
    level text NOT NULL,
    service text NOT NULL,
    user_id int NOT NULL,
    message text NOT NULL,
    file_name text
  )`)
  const kept = await keptTable(db, 'logs', started)
  if (kept) return kept
  // Deterministic values (no random()) so figures and tests are reproducible run after run.
  await db.query(
    `INSERT INTO logs (id, ts, level, service, user_id, message, file_name)
     SELECT g,
       now() - (g::float8 / $1) * interval '30 days',
       (ARRAY['debug','info','info','info','warn','error'])[1 + g % 6],
       (ARRAY['api','auth','billing','search','upload'])[1 + g % 5],
       1 + (g / 7) % 50,
       'request ' || g || ' handled by ' || (ARRAY['api','auth','billing','search','upload'])[1 + g % 5],
       CASE WHEN g % 20 = 0 THEN 'upload-' || g || '.csv' END
     FROM generate_series(1, $1::int) AS g`,
    [rows],
  )
  return seeded(rows, started)
}
