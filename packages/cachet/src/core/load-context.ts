import type { LoaderContext } from './cache-api.js'
import { MAX_ETAG_BYTES } from './codec/entry-meta.js'
import { type Duration, toMsOrOff } from './duration.js'
import type { Engine, Inflight } from './engine.js'
import { InvalidOptionError, LoaderFailedError } from './errors.js'
import { validateTag } from './keys.js'
import { type CallContext, positiveMs } from './options.js'
import type { Entry, EntryMeta } from './types.js'

/**
 * The context one load hands its loader, and what the loader decided with it. Made per load (never on
 * a hit). Its methods are bound: loaders destructure them (`async ({ skip }) => …`).
 */
export class LoadContext<T> implements LoaderContext<T> {
  readonly key: string
  readonly stale?: T
  readonly etag?: string
  readonly lastModified?: Date
  readonly background: boolean
  /** false after skip()/noStore(). */
  store = true
  /** Set by fail(): the load failed even if the loader caught the throw and returned a value. */
  failure: unknown = undefined
  /** Set by notModified(): the stale entry is stored again instead of a new value. */
  renew = false
  #ttlMs: number | undefined
  #graceMs: number | undefined
  #tags: string[] | undefined
  #meta: EntryMeta | undefined
  /** Epochs of the tags setTags added, read when they were added (see epochs()). */
  #addedEpochs: Array<Promise<number[] | undefined>> = []
  readonly #engine: Engine
  /** The load in flight (getOrSet); undefined for a getOrSetMany batch, whose writes check no epochs. */
  readonly #record: Inflight | undefined
  readonly #staleEntry: Entry<T> | undefined
  /** A batch's caller signal (its only caller); a single load's comes from its audience. */
  readonly #callerSignal: AbortSignal | undefined
  #signal: AbortSignal | undefined

  constructor(
    engine: Engine,
    key: string,
    stale: Entry<T> | undefined,
    background: boolean,
    record: Inflight | undefined,
    callerSignal?: AbortSignal,
  ) {
    this.#engine = engine
    this.#record = record
    this.#staleEntry = stale
    this.#callerSignal = callerSignal
    this.key = key
    this.background = background
    if (stale !== undefined) {
      this.stale = stale.value
      const meta = stale.meta
      if (meta?.etag !== undefined) this.etag = meta.etag
      if (meta?.lastModified !== undefined) this.lastModified = new Date(meta.lastModified)
    }
  }

  /**
   * Aborts when no caller waits for this load any more (see LoadAudience). Made only when the loader
   * reads it; for a load nobody can leave it is the load's own, never aborted and never shared (a
   * listener a loader forgets to remove dies with it).
   */
  get signal(): AbortSignal {
    const audience = this.#record?.audience
    if (audience) return audience.signal
    this.#signal ??= this.#callerSignal ?? new AbortController().signal
    return this.#signal
  }

  setTtl = (ttl: Duration): void => {
    this.#ttlMs = positiveMs(ttl, 'setTtl()')
  }

  setGrace = (grace: Duration | false): void => {
    this.#graceMs = toMsOrOff(grace, 0, 'setGrace()')
  }

  setTags = (tags: readonly string[]): void => {
    if (!Array.isArray(tags)) throw new InvalidOptionError('setTags() takes an array of tags')
    for (const tag of tags) validateTag(tag)
    const record = this.#record
    const known = new Set([...(record?.tags ?? []), ...(this.#tags ?? [])])
    const added = [...new Set(tags)].filter((tag) => !known.has(tag))
    if (added.length === 0) return
    this.#tags = [...(this.#tags ?? []), ...added]
    if (record === undefined) return
    // From now on an invalidation of these tags reaching this process flags the load (its value is
    // then not cached), and the write-back re-checks their epochs in Redis as it does the call's.
    record.tags = [...record.tags, ...added]
    this.#addedEpochs.push(this.#engine.attempt('tagEpochs', (l2) => l2.tagEpochs(added)))
  }

  skip = (): void => {
    this.store = false
  }

  noStore = this.skip

  fail = (error?: unknown): never => {
    this.failure =
      error ?? new LoaderFailedError(`the loader for key '${this.key}' failed`, { key: this.key })
    throw this.failure
  }

  setEtag = (etag: string): void => {
    if (typeof etag !== 'string' || etag === '' || Buffer.byteLength(etag, 'utf8') > MAX_ETAG_BYTES) {
      throw new InvalidOptionError(`setEtag() takes a non-empty string of at most ${MAX_ETAG_BYTES} bytes`)
    }
    this.#meta = { ...this.#meta, etag }
  }

  setLastModified = (date: Date | number | string): void => {
    const ms =
      date instanceof Date ? date.getTime() : typeof date === 'string' ? Date.parse(date) : Number(date)
    if (!Number.isFinite(ms)) {
      throw new InvalidOptionError(`setLastModified() got ${JSON.stringify(String(date))}, not a date`)
    }
    this.#meta = { ...this.#meta, lastModified: ms }
  }

  notModified = (): T => {
    if (this.#staleEntry === undefined) {
      throw new LoaderFailedError(
        `the loader for key '${this.key}' called notModified() but there is no stale value to renew`,
        { key: this.key },
      )
    }
    this.renew = true
    return this.#staleEntry.value
  }

  /** True once setTags() added a tag the call did not have (its epoch is read for the write-back). */
  get addedTags(): boolean {
    return this.#addedEpochs.length > 0
  }

  /** The call's options with what the loader set; the call itself when it set nothing. */
  options(call: CallContext): CallContext {
    if (this.#ttlMs === undefined && this.#graceMs === undefined && this.#tags === undefined) return call
    return {
      ...call,
      ttlMs: this.#ttlMs ?? call.ttlMs,
      graceMs: this.#graceMs ?? call.graceMs,
      tags: this.#tags === undefined ? call.tags : [...new Set([...call.tags, ...this.#tags])],
    }
  }

  /** What to store as the entry's meta: what the loader set, over what the renewed entry had. */
  meta(renewed?: Entry<T>): EntryMeta | undefined {
    if (renewed?.meta === undefined) return this.#meta
    return this.#meta === undefined ? renewed.meta : { ...renewed.meta, ...this.#meta }
  }

  /**
   * The tag epochs the write-back compares, in the order of options(call).tags: the call's, read
   * before loading, then those of the tags setTags added. `writable` is false when one of them could
   * not be read: then nothing may be written to Redis (an invalidation could go unseen).
   */
  async epochs(
    call: CallContext,
    callEpochs: number[] | undefined,
  ): Promise<{ epochs: number[] | undefined; writable: boolean }> {
    if (this.#addedEpochs.length === 0) return { epochs: callEpochs, writable: true }
    const added = await Promise.all(this.#addedEpochs)
    if ((callEpochs === undefined && call.tags.length > 0) || added.some((epochs) => epochs === undefined)) {
      return { epochs: undefined, writable: false }
    }
    // The order options(call) stores the tags in: the call's (unique, resolveCall), then those setTags
    // added (only tags the load's record did not carry yet, so none of the call's).
    return { epochs: [...(callEpochs ?? []), ...(added as number[][]).flat()], writable: true }
  }
}
