import type { Loader } from './cache-api.js'
import type { Engine, Inflight, L2Read } from './engine.js'
import { LoaderTimeoutError, UndefinedValueError } from './errors.js'
import { acquireOrWait } from './lock-wait.js'
import type { CallOptions } from './options.js'
import { timeoutMs } from './options.js'
import { race, valueWithin } from './timeouts.js'
import type { Entry, LockHandle, LockingRead } from './types.js'
import { writeBack } from './write-back.js'

/**
 * Cache-aside with every safety net: L1 → L2 → (stampede lock) → loader, serving stale values on
 * loader failure or slowness, refreshing hot keys early, and never writing back an older value
 * than an invalidation that happened meanwhile.
 */
export function getOrSet<T>(engine: Engine, key: string, loader: Loader<T>, call: CallOptions): Promise<T> {
  const now = Date.now()
  if (!call.forceRefresh) {
    // The L1 hit path's one performance.now() pair, paid only when a `hit` listener (metrics) wants it.
    const startedAt = engine.emitter.has('hit') ? performance.now() : undefined
    const entry = engine.l1?.get(key) as Entry<T> | undefined
    if (entry !== undefined && now < entry.freshUntil) {
      engine.recordHit(key, 'l1', startedAt)
      maybeRefreshEarly(engine, key, loader, call, entry, now)
      return Promise.resolve(entry.value)
    }
    // Join a load in flight, unless an invalidation made it obsolete: a caller that starts after an
    // invalidation completed must see data read after it.
    const running = engine.inflight.get(key)
    if (running && !running.invalidated) return running.promise as Promise<T>
  }
  const record: Inflight = {
    promise: undefined as unknown as Promise<unknown>,
    tags: call.tags ?? [],
    invalidated: false,
  }
  // In the map before lead() runs: lead removes it when it settles (see its finally).
  engine.inflight.set(key, record)
  record.promise = lead(engine, key, loader, call, record)
  return record.promise as Promise<T>
}

/** Refreshes in the background, for XFetch; joins nothing and throws nothing. */
export function refreshInBackground<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallOptions,
): void {
  if (engine.inflight.has(key) || engine.closed) return
  const record: Inflight = {
    promise: undefined as unknown as Promise<unknown>,
    tags: call.tags ?? [],
    invalidated: false,
  }
  engine.inflight.set(key, record)
  record.promise = lead(engine, key, loader, { ...call, forceRefresh: true }, record, true)
  engine.track(record.promise)
}

/** XFetch (Vattani et al.): refresh before expiry with a probability that grows as expiry nears. */
function maybeRefreshEarly<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallOptions,
  entry: Entry<T>,
  now: number,
) {
  const beta = engine.options.earlyRefreshBeta
  if (beta === 0 || entry.loadMs === 0 || call.earlyRefresh === false) return
  const remaining = entry.freshUntil - now
  // Skip the random draw while expiry is far away: the probability there is negligible.
  if (remaining > entry.loadMs * beta * 10) return
  if (now - entry.loadMs * beta * Math.log(Math.random()) >= entry.freshUntil) {
    refreshInBackground(engine, key, loader, call)
  }
}

function serveStale<T>(
  engine: Engine,
  key: string,
  entry: Entry<T>,
  reason: 'swr' | 'fail-safe' | 'soft-timeout',
): T {
  engine.stats.total.staleHits++
  engine.stats.scope(key).staleHits++
  if (engine.emitter.has('stale')) engine.emitter.emit('stale', { key, reason })
  return entry.value
}

async function lead<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallOptions,
  record: Inflight,
  background = false,
): Promise<T> {
  try {
    engine.assertOpen()
    const startedAt = performance.now()
    const tags = call.tags ?? []
    const hardMs = timeoutMs(call.timeouts?.hard, engine.options.hardTimeoutMs, 'timeouts.hard')
    const softMs = Math.min(
      hardMs,
      timeoutMs(call.timeouts?.soft, engine.options.softTimeoutMs, 'timeouts.soft'),
    )
    const l1Entry = engine.l1?.get(key) as Entry<T> | undefined
    let stale = l1Entry !== undefined && Date.now() < l1Entry.staleUntil ? l1Entry : undefined
    if (engine.l1) engine.stats.l1Misses++

    // One round trip: the entry (and, unless it is fresh, the stampede lock), plus the tag epochs a
    // tagged write must re-check after writing. A suspect copy means the bus lost Redis for a while: with
    // that fallback in hand, Redis gets no longer than the soft timeout (it may be frozen), and an
    // unanswered read counts as unreadable.
    const force = call.forceRefresh === true
    const reading = readForLoad(engine, key, tags, force)
    const {
      read,
      epochs,
      lock: readLock,
    } = stale?.suspect ? ((await valueWithin(reading, softMs)) ?? UNREADABLE) : await reading
    // undefined = L2 unreadable: then nothing is written back (its state is unknown).
    const captured = read?.version
    // A lock the read took but this call turns out not to need (a fresh or stale answer) is given back.
    const giveBack = () => {
      if (typeof readLock === 'object') void readLock.release()
    }
    if (
      stale?.suspect &&
      read &&
      !(read.stored.kind === 'entry' && read.stored.entry.version === stale.version)
    ) {
      // Redis answered and no longer holds that version: the copy missed an invalidation. Drop it.
      if (engine.l1?.get(key) === stale) engine.l1.delete(key)
      stale = undefined
    }
    if (read?.stored.kind === 'entry') {
      const entry = read.stored.entry as Entry<T>
      const now = Date.now()
      if (!force && now < entry.freshUntil) {
        giveBack()
        // An invalidation that landed while Redis answered may postdate this read: this caller gets the
        // value, but L1 must not keep it (it would outlive the invalidation by up to l1.maxTtl).
        const value = record.invalidated ? entry.value : engine.keepL1(key, entry, read.bytes)
        engine.recordHit(key, 'l2', startedAt)
        return value
      }
      if (now < entry.staleUntil && (!stale || entry.createdAt > stale.createdAt)) stale = entry
    }
    if (engine.l2 && read) engine.stats.l2Misses++

    if (stale && !force && (engine.failedUntil.get(key) ?? 0) > Date.now()) {
      giveBack()
      return serveStale(engine, key, stale, 'fail-safe')
    }

    // Every load slot is taken: a caller with a stale value is served it rather than queue.
    if (engine.loads.full && (background || (stale && !force))) {
      giveBack()
      if (background) return stale?.value as T
      return serveStale(engine, key, stale!, 'fail-safe')
    }

    let lock: LockHandle | undefined
    let version = captured
    if (typeof readLock === 'object') {
      engine.recordLock(key, 'acquired')
      lock = readLock
    } else if (engine.lock && captured !== undefined) {
      const outcome = await acquireOrWait(engine, key, stale, {
        background,
        force,
        startedAt,
        held: readLock === 'held',
      })
      if (outcome.kind === 'value') return outcome.value as T
      if (outcome.kind === 'stale') return serveStale(engine, key, stale!, 'swr')
      if (outcome.kind === 'skip') return stale?.value as T
      lock = outcome.lock
      if (outcome.version !== undefined) version = outcome.version
    }

    if (!stale && !call.forceRefresh) {
      engine.recordMiss(key, startedAt)
    }

    const completion = runLoader(engine, key, loader, call, stale, record, version, epochs, lock, {
      background,
      hardMs,
    })
    engine.track(completion)
    if (stale) {
      if (softMs === 0) return serveStale(engine, key, stale, 'swr')
      const outcome = await race(completion, softMs)
      if (outcome.state === 'done') return outcome.value
      return serveStale(engine, key, stale, outcome.state === 'timeout' ? 'soft-timeout' : 'fail-safe')
    }
    const outcome = await race(completion, hardMs)
    if (outcome.state === 'done') return outcome.value
    if (outcome.state === 'failed') throw outcome.error
    throw new LoaderTimeoutError(`the loader for key '${key}' did not finish within ${hardMs} ms`, { key })
  } finally {
    if (engine.inflight.get(key) === record) engine.inflight.delete(key)
  }
}

/** What a load's read found; `read` undefined when L2 could not be read. */
interface LoadRead {
  read: L2Read | undefined
  epochs: number[] | undefined
  lock: LockingRead['lock']
}

const UNREADABLE: LoadRead = { read: undefined, epochs: undefined, lock: 'not-tried' }

/**
 * The L2 entry, with the stampede lock taken in the same script unless the entry is fresh, and, for a
 * tagged key, its tags' epochs: one round trip.
 */
function readForLoad(
  engine: Engine,
  key: string,
  tags: readonly string[],
  force: boolean,
): Promise<LoadRead> {
  // An untagged key (the common case) skips the Promise.all: the hit path allocates less.
  if (tags.length === 0)
    return readOrLock(engine, key, force).then((entry) => ({ ...entry, epochs: undefined }))
  return Promise.all([readOrLock(engine, key, force), readEpochs(engine, tags)]).then(([entry, epochs]) => ({
    ...entry,
    epochs,
  }))
}

async function readOrLock(
  engine: Engine,
  key: string,
  force: boolean,
): Promise<{ read: L2Read | undefined; lock: LockingRead['lock'] }> {
  const lock = engine.lock
  if (!lock || !engine.l2) return { read: await engine.readL2(key), lock: 'not-tried' }
  try {
    const found = await lock.readOrLock(key, engine.fullKey(key), Date.now(), force)
    return { read: engine.decodeRead(key, found.bytes), lock: found.lock }
  } catch (error) {
    // Redis trouble: load without the lock, write nothing back.
    engine.l2Failed('get', error, key)
    return { read: undefined, lock: 'not-tried' }
  }
}

async function readEpochs(engine: Engine, tags: readonly string[]): Promise<number[] | undefined> {
  if (!engine.l2 || tags.length === 0) return undefined
  try {
    return await engine.l2.tagEpochs(tags)
  } catch (error) {
    engine.l2Failed('tagEpochs', error)
    return undefined
  }
}

/** Runs the loader, stores its value (L1 now, L2 in the background), releases the lock after the L2 write. */
async function runLoader<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallOptions,
  stale: Entry<T> | undefined,
  record: Inflight,
  version: string | null | undefined,
  epochs: number[] | undefined,
  lock: LockHandle | undefined,
  { background, hardMs }: { background: boolean; hardMs: number },
): Promise<T> {
  let releaseSlot: () => void
  try {
    releaseSlot = await engine.loads.acquire(key, hardMs)
  } catch (error) {
    lock?.release()
    throw error
  }
  const started = performance.now()
  let store = true
  const noStore = () => {
    store = false
  }
  let value: T
  try {
    try {
      value = await loader({ key, stale: stale?.value, background, noStore })
    } finally {
      releaseSlot()
    }
    if (value === undefined) {
      throw new UndefinedValueError(
        `the loader for key '${key}' returned undefined; return null to cache "nothing"`,
        {
          key,
        },
      )
    }
  } catch (error) {
    lock?.release()
    loaderDone(engine, key, performance.now() - started, false)
    if (stale) engine.failedUntil.set(key, Date.now() + engine.options.graceBackoffMs)
    engine.emitError('loader', error, key)
    throw error
  }
  const loadMs = performance.now() - started
  loaderDone(engine, key, loadMs, true)
  engine.failedUntil.delete(key)
  try {
    if (!store) {
      lock?.release()
      return value
    }
    const entry = engine.makeEntry(key, value, call, loadMs)
    const bytes = engine.encode(key, entry)
    if (record.invalidated) {
      lock?.release()
      return value
    }
    const shared = engine.putL1(key, bytes, entry)
    engine.stats.sets++
    const persisted = writeBack(engine, key, entry, bytes, version, epochs, record, lock)
    engine.track(persisted.finally(() => lock?.release()))
    return shared
  } catch (error) {
    lock?.release()
    throw error
  }
}

function loaderDone(engine: Engine, key: string, ms: number, ok: boolean): void {
  const scope = engine.stats.scope(key)
  engine.stats.total.loads++
  engine.stats.total.loaderMsTotal += ms
  scope.loads++
  scope.loaderMsTotal += ms
  if (engine.emitter.has('load')) engine.emitter.emit('load', { key, durationMs: ms, ok })
}
