import type { Engine } from './engine.js'
import type { Entry, LockHandle } from './types.js'

/** What the stampede lock step decided. */
export type LockOutcome =
  | { kind: 'locked'; lock: LockHandle | undefined; version?: string | null }
  | { kind: 'value'; entry: Entry; bytes: number }
  | { kind: 'stale' }

/** How the caller came to the lock. */
export interface LockStep {
  /** A background refresh: never waits. */
  background: boolean
  /** forceRefresh: only a value written after the wait began will do. */
  force: boolean
  /** performance.now() when the call started. */
  startedAt: number
  /** The read already found the lock held by another process (so the first try is skipped). */
  held: boolean
}

/**
 * Takes the distributed lock, or — when another process holds it — serves stale, or waits to be
 * woken by its write (bus), reading the entry and trying the lock again in one round trip as a
 * fallback, for at most lock.wait.
 */
export async function acquireOrWait(
  engine: Engine,
  key: string,
  stale: Entry | undefined,
  step: LockStep,
): Promise<LockOutcome> {
  const lock = engine.lock!
  const waitMs = (engine.options.lock as { waitMs: number }).waitMs
  if (!step.held) {
    // null: another process holds it; undefined: Redis trouble, load without the lock.
    const first = await engine.attempt('lock', () => lock.acquire(key).then((held) => held ?? null), key)
    if (first !== null) {
      if (first) engine.recordLock(key, 'acquired')
      return { kind: 'locked', lock: first }
    }
  }
  if (step.background || (stale && !step.force)) {
    engine.recordLock(key, 'skipped')
    return { kind: 'stale' }
  }
  engine.recordLock(key, 'waited')

  const waitStarted = Date.now()
  const deadline = waitStarted + waitMs
  // A forced refresh accepts only a value written after it started (by the holder it waited for).
  const usable = (entry: Entry) =>
    Date.now() < entry.freshUntil && (!step.force || entry.createdAt >= waitStarted)
  let pause = 25
  let version: string | null | undefined
  while (Date.now() < deadline) {
    await waitForWake(engine, key, Math.min(pause, deadline - Date.now()))
    pause = Math.min(pause * 2, 500)
    const found = await engine.attempt(
      'lock',
      () => lock.readOrLock(key, engine.fullKey(key), Date.now(), step.force),
      key,
    )
    // Redis trouble: stop waiting and load without the lock (nothing is written back: its state is unknown).
    if (!found) return { kind: 'locked', lock: undefined, version: undefined }
    const read = engine.decodeRead(key, found.bytes)
    version = read.version
    if (read.stored.kind === 'entry' && usable(read.stored.entry)) {
      if (typeof found.lock === 'object') void found.lock.release()
      const entry = read.stored.entry
      engine.stats.lockWaits++
      if (engine.emitter.has('lock-wait'))
        engine.emitter.emit('lock-wait', { key, waitedMs: Date.now() - waitStarted })
      return { kind: 'value', entry, bytes: read.bytes }
    }
    if (typeof found.lock === 'object') return { kind: 'locked', lock: found.lock, version }
  }
  // The holder is slow or gone: load anyway (bounded wait, docs/reliability.md P2).
  if (version === undefined) version = (await engine.readL2(key))?.version
  return { kind: 'locked', lock: undefined, version }
}

function waitForWake(engine: Engine, key: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const waiters = engine.lockWaiters.get(key) ?? new Set()
    engine.lockWaiters.set(key, waiters)
    const done = () => {
      clearTimeout(timer)
      waiters.delete(done)
      resolve()
    }
    const timer = setTimeout(done, Math.max(ms, 1))
    timer.unref()
    waiters.add(done)
  })
}
