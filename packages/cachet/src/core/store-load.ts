import { decodedSize } from './codec/envelope.js'
import type { Engine, Inflight, L2Read } from './engine.js'
import type { LoadContext } from './load-context.js'
import type { CallContext } from './options.js'
import type { Entry, LockHandle } from './types.js'
import { writeBack } from './write-back.js'

/** What a load saw before its loader ran, for its write-back. */
export interface LoadState<T> {
  stale: Entry<T> | undefined
  /** The stale entry's stored bytes, when Redis holds that very version (see storedBytes). */
  staleBytes: Buffer | undefined
  version: string | null | undefined
  epochs: number[] | undefined
  record: Inflight
  lock: LockHandle | undefined
}

/** The bytes Redis holds for `stale`, when the read found that very version (a renewal reuses them). */
export function storedBytes<T>(stale: Entry<T> | undefined, read: L2Read | undefined): Buffer | undefined {
  if (stale === undefined || read?.stored.kind !== 'entry') return undefined
  return read.stored.entry.version === stale.version ? envelopeBytes(read) : undefined
}

/**
 * The bytes of a read whose payload a rewrite may copy: an entry cachet wrote. Not a legacy value
 * (plain JSON another writer stored, version ''): its first byte can pass for a format byte and its
 * bytes 45-46 for a section length, so copying "its payload" would store garbage.
 */
export function envelopeBytes(read: L2Read | undefined): Buffer | undefined {
  return read?.stored.kind === 'entry' && read.stored.entry.version !== '' ? read.raw : undefined
}

/**
 * The bytes of `entry`, an entry whose value is the one `stored` holds (a renewal, a new ttl, new
 * tags): its header and tag section around the payload of `stored`, copied as is, so nothing is
 * serialised or compressed again; encoded from the value when `stored` is absent or not an envelope.
 */
export function rewrite(engine: Engine, key: string, entry: Entry, stored: Buffer | undefined) {
  return (stored && engine.codec.reframe(stored, entry)) || engine.encode(key, entry)
}

/**
 * Stores what a loader produced, as its context says: a new value with the options it derived (ttl,
 * grace, tags, ETag/Last-Modified), or, after notModified(), the stale entry again with a new ttl and
 * version around the payload bytes Redis already holds (nothing serialised). L1 at once, Redis in the
 * background through the conditional write-back. Answers the value the callers get.
 */
export function storeLoad<T>(
  engine: Engine,
  key: string,
  value: T,
  context: LoadContext<T>,
  call: CallContext,
  loadMs: number,
  state: LoadState<T>,
): T {
  const { lock, record } = state
  const options = context.options(call)
  const renewed = context.renew ? state.stale : undefined
  const entry = engine.makeEntry(key, renewed ? renewed.value : value, options, loadMs)
  const meta = context.meta(renewed)
  if (meta !== undefined) entry.meta = meta
  const bytes = renewed ? rewrite(engine, key, entry, state.staleBytes) : engine.encode(key, entry)
  // A renewed value is already the cache's own (decoded from Redis, or L1's frozen copy): kept as is.
  const answer =
    renewed && bytes
      ? engine.keepL1(key, entry, decodedSize(bytes), call.l1TtlMs)
      : engine.putL1(key, bytes, entry, call.l1TtlMs)
  engine.stats.sets++
  // Tags added by the loader have epochs of their own to wait for; otherwise the write starts now.
  const persisted = context.addedTags
    ? context
        .epochs(call, state.epochs)
        .then(({ epochs, writable }) =>
          writeBack(engine, key, entry, bytes, writable ? state.version : undefined, epochs, record, lock),
        )
    : writeBack(engine, key, entry, bytes, state.version, state.epochs, record, lock)
  engine.track(lock ? persisted.finally(() => lock.release()) : persisted)
  return answer
}
