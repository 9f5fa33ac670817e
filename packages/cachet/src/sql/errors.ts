import { CachetError } from '../index.js'

/**
 * query() was given a statement whose result must not be cached: its result changes on every run
 * (random(), clock_timestamp()…). Use execute(), which runs it uncached.
 */
export class UncacheableQueryError extends CachetError {
  static override readonly code: string = 'E_SQL_UNCACHEABLE'
}

/**
 * query() was given a statement that writes or has side effects (INSERT, SET, nextval(), FOR UPDATE…):
 * caching it would skip the effect on every hit. Use execute().
 */
export class MutationInQueryError extends UncacheableQueryError {
  static override readonly code = 'E_SQL_MUTATION'
}

/** The database behind a query cache could not be identified, so its results cannot be keyed safely. */
export class DatabaseIdentityError extends CachetError {
  static override readonly code = 'E_SQL_IDENTITY'
}
