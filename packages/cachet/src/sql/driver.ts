import { InvalidOptionError } from '../index.js'

/** Anything with `query(text, values)`: a `pg` Pool or Client, a PGlite instance, or your own adapter. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>
}

/** Rows and the affected-row count, whatever the driver. */
export interface SqlResult<T = Record<string, unknown>> {
  rows: T[]
  rowCount: number
}

/** Runs one statement. */
export type Run = (text: string, values: unknown[] | undefined) => Promise<SqlResult>

/** A database as the query cache sees it. */
export interface Driver {
  kind: 'pglite' | 'pg-pool' | 'pg-client' | 'custom'
  run: Run
  /** Runs `fn` inside BEGIN … COMMIT on one connection; ROLLBACK (and rethrow) when it throws. */
  transaction<R>(fn: (run: Run) => Promise<R>): Promise<R>
}

interface PgliteLike extends Queryable {
  transaction<R>(fn: (tx: Queryable) => Promise<R>): Promise<R>
}
interface PoolLike extends Queryable {
  connect(): Promise<Queryable & { release(error?: Error | boolean): void }>
  totalCount: number
}

/**
 * Both drivers have `query(text, values)`; they differ in the rest. pg returns `{ rows, rowCount }`
 * (an array of results for a multi-statement text), PGlite `{ rows, affectedRows }`. Values are never
 * transformed: rows are cached as the driver gave them (pg's int8 as string, PGlite's as number/BigInt).
 */
export function toDriver(db: Queryable): Driver {
  if (typeof db?.query !== 'function') {
    throw new InvalidOptionError(
      'db must be a pg Pool or Client, a PGlite instance, or have query(text, values)',
    )
  }
  const run = runOn(db)
  const candidate = db as Partial<PgliteLike & PoolLike>
  if (typeof candidate.transaction === 'function') {
    const lite = db as PgliteLike
    return { kind: 'pglite', run, transaction: (fn) => lite.transaction((tx) => fn(runOn(tx))) }
  }
  if (typeof candidate.connect === 'function' && typeof candidate.totalCount === 'number') {
    const pool = db as PoolLike
    return {
      kind: 'pg-pool',
      run,
      transaction: async (fn) => {
        const client = await pool.connect()
        let broken = false
        try {
          return await inTransaction(runOn(client), fn, () => {
            broken = true
          })
        } finally {
          // A connection whose ROLLBACK failed is in an unknown state: pg destroys it when told so.
          client.release(broken)
        }
      },
    }
  }
  if (typeof candidate.connect === 'function') {
    // One connection: transactions must not interleave on it, so they queue.
    let queue: Promise<unknown> = Promise.resolve()
    return {
      kind: 'pg-client',
      run,
      transaction: (fn) => {
        const next = queue.then(() => inTransaction(run, fn))
        queue = next.catch(() => {})
        return next
      },
    }
  }
  return {
    kind: 'custom',
    run,
    transaction: () =>
      Promise.reject(
        new InvalidOptionError('transaction() needs a pg Pool or Client or a PGlite instance as db'),
      ),
  }
}

function runOn(db: Queryable): Run {
  return async (text, values) => normalizeResult(await db.query(text, values))
}

/** pg: `{ rows, rowCount }` or an array of them (multi-statement text: the last one counts); PGlite: `{ rows, affectedRows }`. */
export function normalizeResult(result: unknown): SqlResult {
  const last = (Array.isArray(result) ? result[result.length - 1] : result) as
    | { rows?: Record<string, unknown>[]; rowCount?: number | null; affectedRows?: number }
    | undefined
  const rows = last?.rows ?? []
  return { rows, rowCount: last?.rowCount ?? last?.affectedRows ?? rows.length }
}

async function inTransaction<R>(run: Run, fn: (run: Run) => Promise<R>, onBroken?: () => void): Promise<R> {
  await run('BEGIN', undefined)
  let result: R
  try {
    result = await fn(run)
  } catch (error) {
    await run('ROLLBACK', undefined).catch(() => onBroken?.())
    throw error
  }
  await run('COMMIT', undefined)
  return result
}
