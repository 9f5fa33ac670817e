import { CachetError } from '../index.js'

/** query() was given a statement that writes (INSERT, UPDATE, DELETE…): caching it would hide the write. Use execute(). */
export class MutationInQueryError extends CachetError {
  static override readonly code = 'E_SQL_MUTATION'
}
