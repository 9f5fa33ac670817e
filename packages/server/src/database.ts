import { PGlite } from '@electric-sql/pglite'
import type { Queryable } from 'cachet/sql'
import pg from 'pg'

/** The little the demo needs from PostgreSQL, over PGlite or a `pg` Pool. */
export interface Database {
  /** 'pglite' (embedded, in memory) or 'postgres' (DATABASE_URL). */
  readonly kind: 'pglite' | 'postgres'
  /** The underlying PGlite or pg Pool, for the SQL query cache (which needs its transactions). */
  readonly driver: Queryable
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (query: Database['query']) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** Opens PostgreSQL at `url` through a pg Pool, or an in-memory PGlite when no url is given. */
export async function openDatabase(url?: string): Promise<Database> {
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max: 10 })
    // Fail at start, with the driver's message, rather than on the first request.
    await pool.query('SELECT 1')
    return {
      kind: 'postgres',
      driver: pool,
      query: async <T>(sql: string, params?: unknown[]) => (await pool.query(sql, params)).rows as T[],
      async transaction(work) {
        const client = await pool.connect()
        try {
          await client.query('BEGIN')
          const result = await work(async <T>(sql: string, params?: unknown[]) => {
            return (await client.query(sql, params)).rows as T[]
          })
          await client.query('COMMIT')
          return result
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {})
          throw error
        } finally {
          client.release()
        }
      },
      close: () => pool.end(),
    }
  }
  const lite = new PGlite()
  await lite.waitReady
  return {
    kind: 'pglite',
    driver: lite,
    query: async <T>(sql: string, params?: unknown[]) => (await lite.query<T>(sql, params)).rows,
    transaction: (work) =>
      lite.transaction((tx) =>
        work(async <T>(sql: string, params?: unknown[]) => (await tx.query<T>(sql, params)).rows),
      ),
    close: () => lite.close(),
  }
}
