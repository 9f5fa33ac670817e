import { PGlite } from '@electric-sql/pglite'
import type { FlushItem } from '../../src/write/index.js'

/** The write-behind suites' database: one row per key, applied only over an older version. */
export interface Sink {
  db: PGlite
  /** An idempotent flush: `applies` counts the updates that took effect. */
  flush(batch: FlushItem<unknown>[]): Promise<void>
  rows(): Promise<Array<{ key: string; value: unknown; version: string; applies: number }>>
  count(): Promise<number>
}

export async function openSink(): Promise<Sink> {
  const db = new PGlite()
  await db.exec(`CREATE TABLE wb (
    key text PRIMARY KEY, value jsonb NOT NULL, version bigint NOT NULL, applies int NOT NULL DEFAULT 1)`)
  return {
    db,
    flush: async (batch) => {
      await db.query(
        `INSERT INTO wb (key, value, version)
           SELECT * FROM unnest($1::text[], $2::jsonb[], $3::bigint[])
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version,
           applies = wb.applies + 1
         WHERE wb.version < excluded.version`,
        [
          batch.map((item) => item.key),
          batch.map((item) => JSON.stringify(item.value)),
          batch.map((item) => item.version.toString()),
        ],
      )
    },
    rows: async () =>
      (
        await db.query<{ key: string; value: unknown; version: string; applies: number }>(
          'SELECT * FROM wb ORDER BY key',
        )
      ).rows,
    count: async () =>
      Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM wb')).rows[0]!.n),
  }
}

/** Polls until `done` holds; fails after `timeoutMs` (a "does not hang" bound, not a speed goal). */
export async function waitFor(done: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await done())) {
    if (Date.now() > until) throw new Error(`not done after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
