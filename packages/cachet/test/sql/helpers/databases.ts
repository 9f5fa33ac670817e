import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { IDENTITY_PROBE_MARK } from '../../../src/sql/identity.js'
import type { Queryable } from '../../../src/sql/index.js'
import { postgresUnavailable, startPostgres } from './postgres-server.js'

/** One database the SQL suites run on. */
export interface TestDatabase {
  /** What createQueryCache() gets: a PGlite instance or a pg Pool. */
  db: Queryable
  /** The server's connection URL (PostgreSQL only), to open other databases or roles on it. */
  url?: string
  /** Runs setup SQL directly, uncached. */
  sql<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>
  close(): Promise<void>
}

/** A backend the suites are defined for; `unavailable` says why it is skipped. */
export interface Backend {
  name: 'PGlite' | 'PostgreSQL'
  unavailable?: string
  open(): Promise<TestDatabase>
}

const pglite: Backend = {
  name: 'PGlite',
  open: async () => {
    const db = new PGlite()
    await db.waitReady
    return {
      db,
      sql: async <T>(text: string, values?: unknown[]) => (await db.query<T>(text, values)).rows,
      close: () => db.close(),
    }
  },
}

const postgres: Backend = {
  name: 'PostgreSQL',
  unavailable: postgresUnavailable(),
  open: async () => {
    const server = await startPostgres()
    const pool = new pg.Pool({ connectionString: server.url, max: 10 })
    return {
      db: pool,
      url: server.url,
      sql: async <T>(text: string, values?: unknown[]) => (await pool.query(text, values)).rows as T[],
      close: async () => {
        await pool.end()
        await server.stop()
      },
    }
  },
}

/** PGlite always; PostgreSQL when its binaries are here. */
export const backends: Backend[] = [pglite, postgres]

/** Announces once per file which backend is skipped and why. */
export function warnSkipped(backend: Backend): void {
  if (backend.unavailable) console.warn(`SQL suite on ${backend.name} skipped: ${backend.unavailable}`)
}

/**
 * The same database with every query() call recorded, for "the SQL ran once" assertions; the query
 * cache's one-time identity probe is not a load and is not recorded.
 */
export function counting<D extends object>(db: D): { db: D; calls: string[] } {
  const calls: string[] = []
  const proxy = new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property, target)
      if (property === 'query') {
        return (text: string, values?: unknown[]) => {
          if (!text.startsWith(IDENTITY_PROBE_MARK)) calls.push(text)
          return (value as Queryable['query']).call(target, text, values)
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  return { db: proxy, calls }
}
