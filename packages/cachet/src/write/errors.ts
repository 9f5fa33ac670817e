import { CachetError } from '../core/errors.js'

/**
 * The journal Redis could lose an acknowledged write: it evicts keys (`maxmemory-policy` other than
 * `noeviction`) or keeps no append-only file (`appendonly no`). The message says what to change.
 */
export class JournalNotDurableError extends CachetError {
  static override readonly code = 'E_JOURNAL_NOT_DURABLE'
}

/** write() was called after stop(), or while stop() drains. */
export class WriteBehindStoppedError extends CachetError {
  static override readonly code = 'E_WRITE_BEHIND_STOPPED'
}
