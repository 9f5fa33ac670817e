import type { LockHandle } from '../sync/lock.js'
import type { Engine } from './engine.js'
import type { Entry } from './types.js'

/** What the stampede lock step decided. */
export type LockOutcome =
  | { kind: 'locked'; lock: LockHandle | undefined; version?: string | null }
  | { kind: 'value'; value: unknown }
  | { kind: 'stale' }
  | { kind: 'skip' }

/**
 * Takes the distributed lock, or — when another process holds it — serves stale, or waits to be
 * woken by its write (bus), trying the lock again as a fallback, for at most lock.wait.
 */
export async function acquireOrWait(
  engine: Engine,
  key: string,
  stale: Entry | undefined,
  background: boolean,
  force: boolean,
  startedAt: number,
): Promise<LockOutcome> {
  const lockOptions = engine.options.lock as { ttlMs: number; waitMs: number }
  const tryLock = async (): Promise<LockHandle | undefined | null> => {
    try {
      return await engine.lock!.acquire(key, lockOptions.ttlMs)
    } catch (error) {
      engine.l2Failed('lock', error, key)
      return null // Redis trouble: load without the lock.
    }
  }
  const first = await tryLock()
  if (first !== undefined) {
    if (first) engine.recordLock(key, 'acquired')
    return { kind: 'locked', lock: first ?? undefined }
  }
  if (background || (stale && !force)) {
    engine.recordLock(key, 'skipped')
    return background ? { kind: 'skip' } : { kind: 'stale' }
  }
  engine.recordLock(key, 'waited')

  const waitStarted = Date.now()
  const deadline = waitStarted + lockOptions.waitMs
  let pause = 25
  while (Date.now() < deadline) {
    await waitForWake(engine, key, Math.min(pause, deadline - Date.now()))
    pause = Math.min(pause * 2, 500)
    const read = await engine.readL2(key)
    // A forced refresh accepts only a value written after it started (by the holder it waited for).
    const usable = (entry: Entry) =>
      Date.now() < entry.freshUntil && (!force || entry.createdAt >= waitStarted)
    if (read?.stored.kind === 'entry' && usable(read.stored.entry)) {
      const entry = read.stored.entry
      engine.stats.lockWaits++
      if (engine.emitter.has('lock-wait'))
        engine.emitter.emit('lock-wait', { key, waitedMs: Date.now() - waitStarted })
      const value = engine.keepL1(key, entry, read.bytes)
      engine.recordHit(key, 'l2', startedAt, false)
      return { kind: 'value', value }
    }
    const again = await tryLock()
    if (again !== undefined) return { kind: 'locked', lock: again ?? undefined, version: read?.version }
  }
  // The holder is slow or gone: load anyway (bounded wait, docs/reliability.md P2).
  const read = await engine.readL2(key)
  return { kind: 'locked', lock: undefined, version: read?.version }
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
