import type { CacheResult, Loader, StaleReason } from './cache-api.js'
import { abandoned, followLoad, LoadAudience } from './cancel.js'
import type { Engine, Inflight, L2Read } from './engine.js'
import { LoaderTimeoutError, UndefinedValueError } from './errors.js'
import { LoadContext } from './load-context.js'
import { acquireOrWait } from './lock-wait.js'
import type { CallContext } from './options.js'
import { recordHit, recordLoad, recordMiss, recordShared, recordStale } from './outcome.js'
import { acceptedNow, assertLoaded, checkEntry, screenCopies } from './schema.js'
import { type LoadState, storedBytes, storeLoad } from './store-load.js'
import { isPromiseLike, type RaceResult, race, valueWithin } from './timeouts.js'
import type { Entry, LockHandle, LockingRead } from './types.js'

/**
 * Cache-aside with every safety net: L1 → L2 → (stampede lock) → loader, serving stale values on
 * loader failure or slowness, refreshing hot keys early, and never writing back an older value
 * than an invalidation that happened meanwhile. Answers the value and how it was obtained; every
 * call is counted once (core/outcome.ts), whichever way it went.
 */
export function getOrSetEntry<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallContext,
): Promise<CacheResult<T>> {
  const fresh = freshInL1(engine, key, loader, call)
  if (fresh !== undefined) return Promise.resolve(l1Result(fresh))
  return load(engine, key, loader, call)
}

/** getOrSet's value alone: an L1 hit costs no result object and no extra promise. */
export function getOrSet<T>(engine: Engine, key: string, loader: Loader<T>, call: CallContext): Promise<T> {
  const fresh = freshInL1(engine, key, loader, call)
  if (fresh !== undefined) return Promise.resolve(fresh.value)
  return load(engine, key, loader, call).then(resultValue)
}

const resultValue = <T>(result: CacheResult<T>): T => result.value

function l1Result<T>(entry: Entry<T>): CacheResult<T> {
  return { value: entry.value, outcome: 'hit', source: 'l1', shared: false, degraded: false }
}

/** A fresh L1 entry (counted as a hit, and perhaps refreshed early), or undefined. */
function freshInL1<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallContext,
): Entry<T> | undefined {
  if (call.force || !engine.l1) return undefined
  const now = Date.now()
  // The L1 hit path's one performance.now() pair, paid only when a `hit` listener (metrics) wants it.
  const startedAt = engine.emitter.has('hit') ? performance.now() : undefined
  const entry = engine.l1.get(key) as Entry<T> | undefined
  if (entry === undefined || now >= entry.freshUntil) return undefined
  // A copy the call's schema refuses, or checks asynchronously, is settled on the load path.
  if (call.schema && !acceptedNow(call.schema, entry)) return undefined
  recordHit(engine, key, 'l1', startedAt)
  maybeRefreshEarly(engine, key, loader, call, entry, now)
  return entry
}

/** Past L1: joins a load in flight for the key, or leads one. */
function load<T>(engine: Engine, key: string, loader: Loader<T>, call: CallContext): Promise<CacheResult<T>> {
  // Join a load in flight, unless an invalidation made it obsolete: a caller that starts after an
  // invalidation completed must see data read after it.
  const running = call.force ? undefined : engine.inflight.get(key)
  if (running && !running.invalidated) {
    const joined = (running.promise as Promise<CacheResult<T>>).then((result) => {
      recordShared(engine, key, result)
      // Shared when a load produced it (a joined read of a fresh entry is a plain hit).
      return result.outcome === 'miss' ? { ...result, shared: true } : result
    })
    return call.signal || running.audience ? followLoad(running, joined, call.signal) : joined
  }
  const record: Inflight = {
    promise: undefined as unknown as Promise<unknown>,
    tags: call.tags,
    invalidated: false,
  }
  // In the map before lead() runs: lead removes it when it settles (see its finally).
  engine.inflight.set(key, record)
  if (call.signal) record.audience = new LoadAudience(key)
  const promise = lead(engine, key, loader, call, record)
  record.promise = promise
  return call.signal ? followLoad(record, promise, call.signal) : promise
}

/** Refreshes in the background, for XFetch; joins nothing, throws nothing, counts no outcome. */
export function refreshInBackground<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallContext,
): void {
  if (engine.inflight.has(key) || engine.closed) return
  const record: Inflight = {
    promise: undefined as unknown as Promise<unknown>,
    tags: call.tags,
    invalidated: false,
  }
  engine.inflight.set(key, record)
  record.promise = lead(engine, key, loader, { ...call, force: true }, record, true)
  engine.track(record.promise)
}

/** XFetch (Vattani et al.): refresh before expiry with a probability that grows as expiry nears. */
function maybeRefreshEarly<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallContext,
  entry: Entry<T>,
  now: number,
) {
  const beta = engine.options.earlyRefreshBeta
  if (beta === 0 || entry.loadMs === 0 || !call.earlyRefresh) return
  const remaining = entry.freshUntil - now
  // Skip the random draw while expiry is far away: the probability there is negligible.
  if (remaining > entry.loadMs * beta * 10) return
  if (now - entry.loadMs * beta * Math.log(Math.random()) >= entry.freshUntil) {
    refreshInBackground(engine, key, loader, call)
  }
}

/** How one lead call ends; `background` calls (early refresh) are not counted. */
class Answer {
  constructor(
    readonly engine: Engine,
    readonly key: string,
    readonly background: boolean,
    /** Redis is configured but this call could not read it. */
    public degraded = false,
  ) {}

  hit<T>(value: T, startedAt: number, shared = false): CacheResult<T> {
    if (!this.background) recordHit(this.engine, this.key, 'l2', startedAt, !shared)
    return { value, outcome: 'hit', source: 'l2', shared, degraded: false }
  }

  /** A stale value served; `entry` is undefined only for a background refresh that gives up (nobody reads it). */
  stale<T>(entry: Entry<T> | undefined, reason: StaleReason): CacheResult<T> {
    if (!this.background) recordStale(this.engine, this.key, reason)
    return {
      value: entry?.value as T,
      outcome: 'stale',
      source: entry?.suspect ? 'l1' : 'l2',
      staleReason: reason,
      shared: false,
      degraded: this.degraded,
    }
  }

  /** A loaded value; `lookupMs` is how long the lookup took before it missed. */
  miss<T>(value: T, lookupMs: number | undefined): CacheResult<T> {
    if (!this.background) recordMiss(this.engine, this.key, lookupMs)
    return { value, outcome: 'miss', source: 'loader', shared: false, degraded: this.degraded }
  }
}

async function lead<T>(
  engine: Engine,
  key: string,
  loader: Loader<T>,
  call: CallContext,
  record: Inflight,
  background = false,
): Promise<CacheResult<T>> {
  const answer = new Answer(engine, key, background)
  try {
    engine.assertOpen()
    const startedAt = performance.now()
    const { softMs, hardMs, force } = call
    const l1Entry = engine.l1?.get(key) as Entry<T> | undefined
    let stale = l1Entry !== undefined && Date.now() < l1Entry.staleUntil ? l1Entry : undefined
    // A background refresh is no caller's miss (its hits are not counted either: Answer).
    if (engine.l1 && !background) engine.stats.l1Misses++

    // One round trip: the entry (and, unless it is fresh, the stampede lock), plus the tag epochs a
    // tagged write must re-check after writing. A suspect copy means the bus lost Redis for a while: with
    // that fallback in hand, Redis gets no longer than the soft timeout (it may be frozen), and an
    // unanswered read counts as unreadable.
    const reading = readForLoad(engine, key, call.tags, force)
    const loaded = stale?.suspect ? ((await valueWithin(reading, softMs)) ?? abandon(reading)) : await reading
    const { epochs, lock: readLock } = loaded
    let read = loaded.read
    // Copies the call's schema refuses are dropped (or migrated) before anything uses them.
    if (call.schema) ({ stale, read } = await screenCopies(engine, key, call.schema, stale, read))
    // undefined = L2 unreadable: then nothing is written back (its state is unknown).
    const captured = read?.version
    answer.degraded = engine.l2 !== undefined && read === undefined
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
        const value = record.invalidated ? entry.value : engine.keepL1(key, entry, read.bytes, call.l1TtlMs)
        return answer.hit(value, startedAt)
      }
      if (now < entry.staleUntil && (!stale || entry.createdAt > stale.createdAt)) stale = entry
    }
    if (engine.l2 && read && !background) engine.stats.l2Misses++

    if (stale && !force && (engine.failedUntil.get(key) ?? 0) > Date.now()) {
      giveBack()
      return answer.stale(stale, 'fail-safe')
    }

    // Every load slot is taken: a caller with a stale value is served it rather than queue.
    if (engine.loads.full && (background || (stale && !force))) {
      giveBack()
      return answer.stale(stale, 'fail-safe')
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
      if (outcome.kind === 'value') {
        // Kept in L1 only if no invalidation reached this key while it waited (see the L2 hit above).
        const { entry, bytes } = outcome as { entry: Entry<T>; bytes: number }
        // Refused by the call's schema: load without the lock (the holder's write replaced the old copy).
        const checked = call.schema ? await checkEntry(engine, key, call.schema, entry) : entry
        if (checked) {
          const value = record.invalidated ? checked.value : engine.keepL1(key, checked, bytes, call.l1TtlMs)
          return answer.hit(value, startedAt, true)
        }
      } else if (outcome.kind === 'stale') return answer.stale(stale, 'swr')
      else {
        lock = outcome.lock
        if (outcome.version !== undefined) version = outcome.version
      }
    }
    const lookupMs = performance.now() - startedAt

    const state = { stale, staleBytes: storedBytes(stale, read), version, epochs, record, lock }
    const started = runLoader({ engine, key, loader, call, state, background })
    // A loader that answered synchronously (a value from memory) needs no timer: its outcome is known.
    const completion = started instanceof Promise ? started : undefined
    if (completion) engine.track(completion)
    if (stale) {
      if (completion && softMs === 0) return answer.stale(stale, 'swr')
      const outcome = completion ? await race(completion, softMs) : (started as RaceResult<T>)
      if (outcome.state === 'done') return answer.miss(outcome.value, lookupMs)
      return answer.stale(stale, outcome.state === 'timeout' ? 'soft-timeout' : 'fail-safe')
    }
    const outcome = completion ? await race(completion, hardMs) : (started as RaceResult<T>)
    if (outcome.state === 'done') return answer.miss(outcome.value, lookupMs)
    // No value at all: the caller gets the error, counted as a miss (it found nothing usable).
    answer.miss(undefined, lookupMs)
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
 * A read this call stopped waiting for: the caller goes on as if L2 were unreadable, and a lock the
 * read takes when it does complete is released at once (else it would be renewed for nobody, and every
 * other caller of the key would wait lock.wait for it).
 */
function abandon(reading: Promise<LoadRead>): LoadRead {
  void reading.then((late) => {
    if (typeof late.lock === 'object') void late.lock.release()
  })
  return UNREADABLE
}

/**
 * The L2 entry, with the stampede lock taken unless the entry is fresh, and, for a tagged key, its
 * tags' epochs, read together.
 */
function readForLoad(
  engine: Engine,
  key: string,
  tags: readonly string[],
  force: boolean,
): Promise<LoadRead> {
  // An untagged key (the common case) skips the Promise.all: the hit path allocates less.
  if (tags.length === 0) return readOrLock(engine, key, force)
  return Promise.all([readOrLock(engine, key, force), readEpochs(engine, tags)]).then(([found, epochs]) => {
    found.epochs = epochs
    return found
  })
}

async function readOrLock(engine: Engine, key: string, force: boolean): Promise<LoadRead> {
  const lock = engine.lock
  if (!lock || !engine.l2) return { read: await engine.readL2(key), epochs: undefined, lock: 'not-tried' }
  const found = await engine.attempt(
    'readOrLock',
    () => lock.readOrLock(key, engine.fullKey(key), Date.now(), force),
    key,
  )
  // Redis trouble: load without the lock, write nothing back.
  if (!found) return { read: undefined, epochs: undefined, lock: 'not-tried' }
  return { read: engine.decodeRead(key, found.bytes), epochs: undefined, lock: found.lock }
}

function readEpochs(engine: Engine, tags: readonly string[]): Promise<number[] | undefined> {
  return engine.attempt('tagEpochs', (l2) => l2.tagEpochs(tags))
}

/** One load: what the loader is run with, and what storing its value needs. */
interface LoadRun<T> {
  engine: Engine
  key: string
  loader: Loader<T>
  call: CallContext
  state: LoadState<T>
  background: boolean
}

/**
 * Runs the loader in a free load slot, stores its value (L1 now, L2 in the background) and releases
 * the lock after the L2 write. Answers the outcome itself when the loader completes synchronously (no
 * promise, no timer on that path), else a promise of the value.
 */
function runLoader<T>(run: LoadRun<T>): RaceResult<T> | Promise<T> {
  const slot = run.engine.loads.tryAcquire()
  if (slot) return callLoader(run, slot)
  return run.engine.loads.acquire(run.key, run.call.hardMs).then(
    (release) => {
      const outcome = callLoader(run, release)
      if (outcome instanceof Promise) return outcome
      if (outcome.state === 'done') return outcome.value
      throw (outcome as { error: unknown }).error
    },
    (error: unknown) => {
      run.state.lock?.release()
      throw error
    },
  )
}

function callLoader<T>(run: LoadRun<T>, releaseSlot: () => void): RaceResult<T> | Promise<T> {
  const { engine, key, state } = run
  const started = performance.now()
  const context = new LoadContext(engine, key, state.stale, run.background, state.record)
  let result: T | PromiseLike<T>
  try {
    result = run.loader(context)
  } catch (error) {
    releaseSlot()
    return { state: 'failed', error: loadFailed(run, started, error) }
  }
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (value) => {
        releaseSlot()
        const checking = checkLoaded(run, started, value)
        return checking
          ? checking.then(() => loaded(run, started, value, context))
          : loaded(run, started, value, context)
      },
      (error: unknown) => {
        releaseSlot()
        throw loadFailed(run, started, error)
      },
    )
  }
  releaseSlot()
  try {
    const checking = checkLoaded(run, started, result)
    if (checking) return checking.then(() => loaded(run, started, result, context))
    return { state: 'done', value: loaded(run, started, result, context) }
  } catch (error) {
    return { state: 'failed', error }
  }
}

/**
 * The call's schema check of a loaded value (schema.ts assertLoaded): nothing without a schema, a
 * promise only when the schema validates asynchronously. A refusal fails the load (loadFailed).
 */
function checkLoaded<T>(run: LoadRun<T>, started: number, value: T): Promise<void> | undefined {
  const check = run.call.schema
  if (!check) return undefined
  try {
    const checking = assertLoaded(check, value, `the loader for key '${run.key}'`, run.key)
    return checking?.catch((error: unknown) => {
      throw loadFailed(run, started, error)
    })
  } catch (error) {
    throw loadFailed(run, started, error)
  }
}

/** A failed load: the lock is given back, the failure counted and reported; answers the error. */
function loadFailed<T>(run: LoadRun<T>, started: number, error: unknown): unknown {
  const { engine, key, state } = run
  state.lock?.release()
  recordLoad(engine, key, performance.now() - started, false)
  // A loader that gave up because every caller left (ctx.signal) says nothing about the source.
  if (!abandoned(state.record)) {
    if (state.stale) engine.failedUntil.set(key, Date.now() + engine.options.graceBackoffMs)
    engine.emitError('loader', error, key)
  }
  return error
}

/**
 * A loaded value: counted, kept in L1 and written back to L2 as the loader's context says; answers
 * L1's copy. fail() marks the load failed even when the loader caught what it threw.
 */
function loaded<T>(run: LoadRun<T>, started: number, value: T, context: LoadContext<T>): T {
  const { engine, key, state } = run
  if (context.failure !== undefined) throw loadFailed(run, started, context.failure)
  if (value === undefined) {
    throw loadFailed(
      run,
      started,
      new UndefinedValueError(
        `the loader for key '${key}' returned undefined; return null to cache "nothing"`,
        {
          key,
        },
      ),
    )
  }
  const loadMs = performance.now() - started
  recordLoad(engine, key, loadMs, true)
  engine.failedUntil.delete(key)
  try {
    if (!context.store || state.record.invalidated) {
      state.lock?.release()
      return value
    }
    return storeLoad(engine, key, value, context, run.call, loadMs, state)
  } catch (error) {
    state.lock?.release()
    throw error
  }
}
