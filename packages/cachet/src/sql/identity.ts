import { randomUUID } from 'node:crypto'
import { errorMessage } from '../core/errors.js'
import { InvalidOptionError, stableStringify } from '../index.js'
import type { Driver } from './driver.js'
import { DatabaseIdentityError } from './errors.js'

/** Marks the identity probe's statements, so that tools counting loads can tell them apart. */
export const IDENTITY_PROBE_MARK = '/* cachet: database identity */'

// Everything that decides what an unqualified name means and which rows a role may see. Every role may
// run these; pg_control_system() may be revoked (managed services do), hence the privilege check.
const SESSION = `${IDENTITY_PROBE_MARK} SELECT current_database() AS database,
  (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database_oid,
  current_user AS role, current_setting('search_path') AS search_path,
  inet_server_addr()::text AS address, inet_server_port() AS port,
  pg_postmaster_start_time()::text AS started,
  has_function_privilege('pg_control_system()', 'execute') AS control_readable`
const SYSTEM = `${IDENTITY_PROBE_MARK} SELECT system_identifier::text AS system FROM pg_control_system()`
// PGlite's system identifier has millisecond resolution and a fixed pid, so two processes' in-memory
// databases can share one: each instance gets a random name instead, kept in its (single) session so
// that every query cache on the same instance finds the same one.
const INSTANCE = `${IDENTITY_PROBE_MARK} SELECT COALESCE(NULLIF(current_setting('cachet.instance', true), ''),
  set_config('cachet.instance', $1, false)) AS instance`

/** Checks an explicit `identity` option: a non-empty string. */
export function validateIdentity(identity: unknown): void {
  if (typeof identity !== 'string' || identity.length === 0) {
    throw new InvalidOptionError(`identity must be a non-empty string; got ${JSON.stringify(identity)}`)
  }
}

/**
 * What decides a read's result besides its text: the server (its system identifier, else its address,
 * port and start time), the database (name and oid), the role and the search_path. Two query caches on
 * the same database, role and search_path get the same identity, in any process; any difference
 * separates them. Asked once, on first use; a failure is not remembered.
 */
export async function probeIdentity(driver: Driver): Promise<string> {
  try {
    const [session] = (await driver.run(SESSION, undefined)).rows
    if (!session) throw new Error('the identity probe returned no row')
    const { control_readable: controlReadable, started, address, port, ...database } = session
    let server: unknown
    if (driver.kind === 'pglite') {
      server = { instance: (await driver.run(INSTANCE, [randomUUID()])).rows[0]?.instance }
    } else if (controlReadable === true) {
      server = { system: (await driver.run(SYSTEM, undefined)).rows[0]?.system }
    } else {
      server = { address, port, started }
    }
    return `pg:${stableStringify({ server, ...database })}`
  } catch (error) {
    throw new DatabaseIdentityError(
      'cannot identify the database behind this query cache (current_database(), current_user, search_path, ' +
        `server): ${errorMessage(error)}; pass the identity option`,
      { cause: error },
    )
  }
}
