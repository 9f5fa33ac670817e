import { InvalidOptionError } from '../index.js'
import { normalizeResult, type Queryable } from './driver.js'

/** The channel invalidation triggers notify, and query caches listen to, unless told otherwise. */
export const DEFAULT_CHANNEL = 'cachet_invalidate'
const TRIGGER = 'cachet_invalidate'
const FUNCTION = 'cachet_notify_invalidation'
// LISTEN folds an unquoted channel name: lowercase only, so the name cannot be read two ways.
const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/

/** Options of installInvalidationTriggers(). */
export interface InvalidationTriggerOptions {
  /** Tables to watch ('orders', 'sales.orders', '"Orders"'). @default every table outside the system schemas */
  tables?: readonly string[]
  /** The NOTIFY channel: lowercase letters, digits and '_'. @default 'cachet_invalidate' */
  channel?: string
}

/** Throws InvalidOptionError unless `channel` is a lowercase SQL name. */
export function validateChannel(channel: string): string {
  if (typeof channel !== 'string' || !CHANNEL.test(channel)) {
    throw new InvalidOptionError(
      `channel must be 1 to 63 lowercase letters, digits or '_', not starting with a digit (got ${JSON.stringify(channel)})`,
    )
  }
  return channel
}

/**
 * Puts an `AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE … FOR EACH STATEMENT` trigger on each table that
 * sends `NOTIFY <channel>, '<table name>'`, so writes made outside cachet (psql, another service) reach the
 * query caches listening on the channel (QueryCache.listen()). PostgreSQL delivers a notification only
 * when its transaction commits, so an invalidation never precedes the commit. Idempotent: running it again
 * replaces the triggers. Returns the tables it watches, as the server names them.
 */
export async function installInvalidationTriggers(
  db: Queryable,
  options: InvalidationTriggerOptions = {},
): Promise<{ channel: string; tables: string[] }> {
  const channel = validateChannel(options.channel ?? DEFAULT_CHANNEL)
  const tables = options.tables ? await resolveTables(db, options.tables) : await userTables(db)
  await db.query(
    `CREATE OR REPLACE FUNCTION ${FUNCTION}() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $$
     BEGIN
       PERFORM pg_notify(TG_ARGV[0], TG_TABLE_NAME);
       RETURN NULL;
     END $$`,
  )
  for (const table of tables) {
    // `table` is regclass text, quoted by the server where needed; the channel is checked above.
    await db.query(
      `CREATE OR REPLACE TRIGGER ${TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
       FOR EACH STATEMENT EXECUTE FUNCTION ${FUNCTION}('${channel}')`,
    )
  }
  return { channel, tables }
}

/** Each name as the server resolves it (`to_regclass`); a name that is not a table is an InvalidOptionError. */
async function resolveTables(db: Queryable, names: readonly string[]): Promise<string[]> {
  const tables: string[] = []
  for (const name of names) {
    if (typeof name !== 'string' || name.length === 0 || name.length > 1024) {
      throw new InvalidOptionError(`tables: ${JSON.stringify(name)} is not a table name`)
    }
    const { rows } = normalizeResult(
      await db
        .query(
          `SELECT c.oid::regclass::text AS name FROM pg_class c
            WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')`,
          [name],
        )
        // to_regclass() rejects a malformed name ('invalid name syntax') rather than returning NULL.
        .catch((error: { code?: string }) => {
          if (error?.code === '42602') return { rows: [] }
          throw error
        }),
    )
    if (rows.length === 0) throw new InvalidOptionError(`tables: no table ${JSON.stringify(name)}`)
    tables.push(String(rows[0]!.name))
  }
  return tables
}

async function userTables(db: Queryable): Promise<string[]> {
  const { rows } = normalizeResult(
    await db.query(
      `SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1`,
    ),
  )
  return rows.map((row) => String(row.name))
}
