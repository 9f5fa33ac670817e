import { errorMessage } from '../core/errors.js'
import { InvalidOptionError } from '../index.js'
import type { Queryable } from './driver.js'

/** What the invalidation listener is doing. */
export interface ListenerHealth {
  state: 'off' | 'listening' | 'reconnecting' | 'closed'
  channel?: string
  /** Notifications received (one per table per committed transaction). */
  notifications: number
  /** Times the connection dropped and came back; each time the query cache's entries were dropped. */
  gaps: number
  /** The last connection error, while not listening. */
  lastError?: string
}

/** What the listener tells the query cache. */
export interface ListenerEvents {
  /** A table was written (its name as the server has it, unqualified). */
  table(name: string): void
  /** Notifications may have been missed: drop everything that may be stale. */
  gap(): Promise<unknown>
}

type Subscription = { stop(): Promise<void>; lost: Promise<void> }

interface NotifyingClient extends Queryable {
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown
  on(event: 'error' | 'end', listener: (error?: unknown) => void): unknown
  removeListener(event: string, listener: (...args: never[]) => void): unknown
}
interface PoolLike extends Queryable {
  connect(): Promise<NotifyingClient & { release(destroy?: boolean): void }>
  totalCount: number
}
interface PgliteLike extends Queryable {
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>
}

const MIN_RETRY_MS = 100
const MAX_RETRY_MS = 5_000

/**
 * LISTENs on a channel: a dedicated connection taken from a pg Pool (re-established with backoff when it
 * drops), the pg Client itself, or PGlite's listen(). When a dropped connection comes back, notifications
 * sent meanwhile are lost, so `gap()` runs once LISTEN is active again.
 */
export class InvalidationListener {
  readonly #db: Queryable
  readonly #channel: string
  readonly #events: ListenerEvents
  #health: ListenerHealth
  #subscription: Subscription | undefined
  #retry: ReturnType<typeof setTimeout> | undefined
  #closed = false

  constructor(db: Queryable, channel: string, events: ListenerEvents) {
    this.#db = db
    this.#channel = channel
    this.#events = events
    this.#health = { state: 'off', channel, notifications: 0, gaps: 0 }
  }

  health(): ListenerHealth {
    return { ...this.#health }
  }

  /** Resolves once LISTEN is active; throws when the first connection fails. */
  async start(): Promise<void> {
    await this.#subscribe()
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    this.#health.state = 'closed'
    await this.#subscription?.stop().catch(() => {})
    this.#subscription = undefined
  }

  async #subscribe(): Promise<void> {
    const subscription = await this.#open()
    if (this.#closed) {
      await subscription.stop().catch(() => {})
      return
    }
    this.#subscription = subscription
    this.#health.state = 'listening'
    this.#health.lastError = undefined
    void subscription.lost.then(() => this.#reconnect(MIN_RETRY_MS))
  }

  #reconnect(delay: number): void {
    if (this.#closed) return
    this.#health.state = 'reconnecting'
    this.#subscription = undefined
    this.#retry = setTimeout(async () => {
      try {
        await this.#subscribe()
        if (this.#closed) return
        await this.#events.gap()
        // Counted once handled: a reader of health() that sees the gap also sees its entries dropped.
        this.#health.gaps++
      } catch (error) {
        this.#failed(error)
        this.#reconnect(Math.min(delay * 2, MAX_RETRY_MS))
      }
    }, delay)
    this.#retry.unref?.()
  }

  #failed(error: unknown): void {
    this.#health.lastError = errorMessage(error)
  }

  #notified = (payload: string | undefined) => {
    if (!payload) return
    this.#health.notifications++
    this.#events.table(payload)
  }

  #open(): Promise<Subscription> {
    const db = this.#db as Partial<PgliteLike & PoolLike>
    if (typeof db.listen === 'function') return this.#openPglite(db as PgliteLike)
    if (typeof db.connect === 'function' && typeof db.totalCount === 'number')
      return this.#openPool(db as PoolLike)
    if (typeof (db as Partial<NotifyingClient>).on === 'function') {
      return this.#openClient(db as NotifyingClient)
    }
    throw new InvalidOptionError('listen() needs a pg Pool or Client or a PGlite instance as db')
  }

  async #openPglite(db: PgliteLike): Promise<Subscription> {
    const stop = await db.listen(this.#channel, this.#notified)
    // An in-process database does not drop its connection.
    return { stop, lost: new Promise(() => {}) }
  }

  async #openPool(pool: PoolLike): Promise<Subscription> {
    const client = await pool.connect()
    // A dead connection may report more errors after it was given back: never unhandled.
    client.on('error', () => {})
    let released = false
    const release = (destroy: boolean) => {
      if (released) return
      released = true
      client.release(destroy)
    }
    try {
      const subscription = await this.#openClient(client, () => release(true))
      return {
        lost: subscription.lost,
        stop: async () => {
          await subscription.stop()
          release(false)
        },
      }
    } catch (error) {
      release(true)
      throw error
    }
  }

  /** LISTEN on one connection; `lost` resolves when it errors or ends; stop() UNLISTENs and detaches. */
  async #openClient(client: NotifyingClient, onLost?: () => void): Promise<Subscription> {
    let markLost!: () => void
    const lost = new Promise<void>((resolve) => {
      markLost = resolve
    })
    const notification = (message: { channel: string; payload?: string }) => {
      if (message.channel === this.#channel) this.#notified(message.payload)
    }
    const drop = (error?: unknown) => {
      if (error !== undefined) this.#failed(error)
      detach()
      onLost?.()
      markLost()
    }
    const ended = () => drop()
    const detach = () => {
      client.removeListener('notification', notification)
      client.removeListener('error', drop)
      client.removeListener('end', ended)
    }
    client.on('notification', notification)
    client.on('error', drop)
    client.on('end', ended)
    try {
      await client.query(`LISTEN ${this.#channel}`)
    } catch (error) {
      detach()
      throw error
    }
    const stop = async () => {
      detach()
      await client.query(`UNLISTEN ${this.#channel}`).catch(() => {})
    }
    return { stop, lost }
  }
}
