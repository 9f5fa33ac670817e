import type { Engine } from './engine.js'
import type { Entry, L2Tier, OwnWrite } from './types.js'

/**
 * A conditional script write of an entry whose copy L1 keeps (a loaded value's write-back, expire,
 * addTags, a migration; getOrSetMany registers and settles its batch with the two functions below).
 * Redis 7.0 reports a key a script writes to its writer despite NOLOOP: registered before it is sent
 * (TrackingSource.expectOwnWrite), that report makes the copy suspect instead of dropping it. Answers
 * what Engine.attempt answered (undefined: Redis could not be asked).
 */
export async function writeOwnCopy(
  engine: Engine,
  operation: string,
  key: string,
  entry: Entry,
  write: (l2: L2Tier) => Promise<boolean>,
): Promise<boolean | undefined> {
  const registered = expectOwnWrite(engine, key)
  const written = await engine.attempt(operation, write, key)
  if (registered) settleOwnWrite(engine, key, entry, registered, written)
  return written
}

/** Registers a script write of `key` about to be sent; undefined when nothing was registered (see writeOwnCopy). */
export function expectOwnWrite(engine: Engine, key: string): OwnWrite | undefined {
  return engine.tracking?.expectOwnWrite(engine.fullKey(key))
}

/**
 * Settles a registered write: one Redis applied waits for its report; one not applied withdraws its
 * registration, and when a report was already taken for it (another writer's, then) drops the copy.
 */
export function settleOwnWrite(
  engine: Engine,
  key: string,
  entry: Entry,
  registered: OwnWrite,
  written: boolean | undefined,
): void {
  const tracking = engine.tracking!
  if (written === true) tracking.ownWriteLanded(registered)
  else if (!tracking.withdrawOwnWrite(registered)) dropOwnCopy(engine, key, entry)
}

/** Drops L1's copy of the key if it is still `entry` (same version). */
export function dropOwnCopy(engine: Engine, key: string, entry: Entry): void {
  if (engine.l1?.get(key)?.version === entry.version) engine.l1.delete(key)
}
