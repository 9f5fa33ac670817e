import type { Redis } from 'ioredis'
import { closeClient } from '../tiers/redis/client.js'

/** The channel Redis publishes tracking invalidations on, for a RESP2 client that redirects them. */
export const INVALIDATION_CHANNEL = '__redis__:invalidate'

/** What enabling tracking on one node gave: on, refused by the server for good, or failed for now. */
export type EnableOutcome = { kind: 'on' } | { kind: 'refused'; reason: string } | { kind: 'failed' }

/** Options of TrackedNode. */
export interface TrackedNodeOptions {
  /** Keys starting with this (the cache's `${prefix}:`) are tracked. */
  keyPrefix: string
  /** Full keys another client wrote, deleted, or Redis expired or evicted. */
  onKeys: (keys: string[]) => void
  /** The node was flushed (FLUSHALL / FLUSHDB). */
  onFlush: () => void
  /** Invalidations may have been lost (a connection dropped) or were not tracked (a reconnect). */
  onGap: (reason: string) => void
}

/**
 * A server refusal that retrying cannot fix: CLIENT TRACKING unknown (Redis < 6), a command or the
 * invalidation channel denied by ACL. Anything else (closed connection, timeout) is retried on reconnect.
 */
const REFUSAL = /NOPERM|unknown (sub)?command|EXECABORT|wrong number of arguments/i

/**
 * Server-assisted invalidation for one Redis node (docs/architecture.md, L1 coherence): the data
 * connection, the one cachet reads and writes through, has `CLIENT TRACKING ON ... BCAST PREFIX
 * <prefix>: NOLOOP` redirected to a second connection subscribed to the invalidation channel. NOLOOP
 * spares this instance its own writes (its L1 already holds what it wrote). Tracking lives and dies
 * with both connections: whichever reconnects, tracking is switched on again (towards the
 * subscriber's new id) and the blind spot is reported as a gap.
 */
export class TrackedNode {
  readonly #data: Redis
  readonly #subscriber: Redis
  readonly #options: TrackedNodeOptions
  readonly #onDataReady = () => this.#reconnected()
  readonly #onDataClose = () => this.#lost('data connection lost')
  #active = false
  /** The subscriber connection's id while it is subscribed (a subscriber cannot run CLIENT ID). */
  #subscriberId: number | undefined
  /** Counts connection losses, so an attempt that straddled one does not count as tracking on. */
  #losses = 0
  #everOn = false
  #closed = false
  #running: Promise<EnableOutcome> | undefined
  #again = false

  constructor(data: Redis, options: TrackedNodeOptions) {
    this.#data = data
    this.#options = options
    // Not a subscriber ioredis re-subscribes by itself: #enable does, handling the failure.
    this.#subscriber = data.duplicate({
      enableOfflineQueue: true,
      autoResubscribe: false,
      lazyConnect: false,
    })
    this.#subscriber.on('error', () => {}) // The data connection's listeners log Redis trouble.
    this.#subscriber.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() === INVALIDATION_CHANNEL) this.#receive(message)
    })
    this.#subscriber.on('close', () => {
      this.#subscriberId = undefined
      this.#lost('tracking connection lost')
    })
    this.#subscriber.on('ready', () => this.#reconnected())
    data.on('ready', this.#onDataReady)
    data.on('close', this.#onDataClose)
  }

  /** True while tracking is on and its subscriber connected. */
  get active(): boolean {
    return this.#active
  }

  /** Switches tracking on (once both connections answer); the outcome of this first attempt. */
  enable(): Promise<EnableOutcome> {
    return this.#schedule()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#active = false
    this.#data.off('ready', this.#onDataReady)
    this.#data.off('close', this.#onDataClose)
    // Leave the data connection as it was: a client passed in by the user outlives the cache.
    if (this.#data.status === 'ready') await this.#data.call('CLIENT', 'TRACKING', 'OFF').catch(() => {})
    await closeClient(this.#subscriber)
  }

  /** One attempt at a time; a reconnect during an attempt runs another one after it. */
  #schedule(): Promise<EnableOutcome> {
    if (this.#closed) return Promise.resolve({ kind: 'failed' })
    if (this.#running) {
      this.#again = true
      return this.#running
    }
    const running = this.#attempt().finally(() => {
      this.#running = undefined
      if (this.#again) {
        this.#again = false
        void this.#schedule()
      }
    })
    this.#running = running
    return running
  }

  #reconnected(): void {
    if (!this.#active) void this.#schedule()
  }

  async #attempt(): Promise<EnableOutcome> {
    if (this.#active) return { kind: 'on' }
    const losses = this.#losses
    try {
      if (this.#subscriberId === undefined) {
        const id = (await this.#subscriber.client('ID')) as number
        await this.#subscriber.subscribe(INVALIDATION_CHANNEL)
        this.#subscriberId = id
      }
      const id = this.#subscriberId
      // OFF then ON in one transaction: a prefix cannot be registered twice, and no write may slip
      // through untracked in between.
      const replies = await this.#data
        .multi()
        .call('CLIENT', 'TRACKING', 'OFF')
        .call(
          'CLIENT',
          'TRACKING',
          'ON',
          'REDIRECT',
          String(id),
          'BCAST',
          'PREFIX',
          this.#options.keyPrefix,
          'NOLOOP',
        )
        .exec()
      for (const [error] of replies ?? []) if (error) throw error
    } catch (error) {
      const message = describeError(error)
      if (REFUSAL.test(message)) return { kind: 'refused', reason: message }
      return { kind: 'failed' }
    }
    // A connection dropped meanwhile: its 'ready' schedules the next attempt.
    if (this.#closed || losses !== this.#losses) return { kind: 'failed' }
    this.#active = true
    // What L1 took in while tracking was off may have missed an invalidation.
    if (this.#everOn) this.#options.onGap('tracking switched on again after a reconnect')
    this.#everOn = true
    return { kind: 'on' }
  }

  #receive(message: unknown): void {
    // A flush arrives as a null message; otherwise an array of the keys invalidated together.
    if (message === null) {
      this.#options.onFlush()
      return
    }
    const keys = Array.isArray(message) ? message : [message]
    this.#options.onKeys(keys.map((key) => String(key)))
  }

  #lost(reason: string): void {
    this.#losses++
    if (!this.#active || this.#closed) return
    this.#active = false
    this.#options.onGap(reason)
  }
}

/** The message of an error, with the errors EXECABORT stands for (ioredis' previousErrors). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const previous = (error as { previousErrors?: Error[] }).previousErrors
  return previous?.length ? `${error.message} (${previous.map((e) => e.message).join('; ')})` : error.message
}
