import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { InvalidKeyError } from '../core/errors.js'
import { MAX_KEY_BYTES, PATTERN_LIMITS, validatePattern } from '../core/keys.js'
import { withDeadline } from '../core/timeouts.js'
import type { BusMessage, InvalidationBus } from '../core/types.js'
import { closeClient, type RedisConnection } from '../tiers/redis/client.js'
import { PingWatch } from './ping-watch.js'

export type { BusMessage }

/** Options of Bus. */
export interface BusOptions {
  connection: RedisConnection
  prefix: string
  /** A message from another instance. */
  onMessage: (message: BusMessage) => void
  /** Messages may have been lost (sequence gap, re-subscribe, missed PINGs): L1 becomes suspect. */
  onGap: (reason: string) => void
  /** Failed publishes kept for retry; on overflow one 'clear' replaces them. @default 1000 */
  maxQueue?: number
  /** A publish not acknowledged within this many ms is queued for retry. @default 1000 */
  timeoutMs?: number
  /** Subscriber PING and publish-retry interval in ms. @default 1000 */
  intervalMs?: number
}

/** What travels on the channel: the message plus its origin and that origin's sequence number. */
interface WireMessage extends BusMessage {
  o: string
  s: number
}

const TYPES = new Set(['set', 'del', 'tags', 'pattern', 'clear'])
/** Keys merged into one message at most, so a message stays small. */
const MAX_KEYS_PER_MESSAGE = 1_000
/**
 * The engine's pattern rules, with room for a namespace's scope (a key, up to twice as long once
 * escaped) before the caller's pattern. Escaped characters are not wildcards, so their count stays.
 */
const BUS_PATTERN_LIMITS = {
  maxLength: PATTERN_LIMITS.maxLength + 2 * MAX_KEY_BYTES,
  maxWildcards: PATTERN_LIMITS.maxWildcards,
}
/** PING intervals without a PONG before the subscriber is considered cut off (docs/reliability.md C4). */
const MISSED_PINGS = 2

/**
 * L1 coherence over Redis pub/sub (at-most-once, docs/reliability.md E5). Loss is detected rather than
 * prevented: per-origin sequence numbers expose gaps, a re-subscribe after a disconnect and unanswered
 * PINGs expose blind spots; each is reported through onGap so the engine marks L1 suspect.
 */
export class Bus implements InvalidationBus {
  /** Identifies this instance's messages; a new one per process start, so sequences never restart. */
  readonly origin = randomBytes(8).toString('hex')
  readonly #channel: string
  readonly #maxQueue: number
  readonly #intervalMs: number
  #seq = 0
  readonly #lastSeen = new Map<string, number>()
  readonly #queue: string[] = []
  #draining = false
  #subscriber: Redis | Cluster | undefined
  #timer: NodeJS.Timeout | undefined
  #connected = false
  readonly #pings = new PingWatch({
    ping: () => this.#subscriber!.ping(),
    limit: MISSED_PINGS,
    onSilent: (reason) => this.#gap(reason),
  })
  #closed = false
  #outbox: BusMessage[] = []
  #flushScheduled = false
  #refused = 0

  readonly #options: BusOptions

  constructor(options: BusOptions) {
    this.#options = options
    this.#channel = `${options.prefix}:__bus`
    this.#maxQueue = options.maxQueue ?? 1_000
    this.#intervalMs = options.intervalMs ?? 1_000
  }

  /** Subscribes (resolves once subscribed) and starts the PING and retry timer. */
  async start(): Promise<void> {
    const subscriber = this.#options.connection.duplicate()
    this.#subscriber = subscriber
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.#channel) this.#receive(text)
    })
    subscriber.on('close', () => this.#lost('subscriber connection lost'))
    await subscriber.subscribe(this.#channel)
    this.#connected = true
    // Registered after the first subscription, so only a reconnect triggers it.
    subscriber.on('ready', () => {
      if (!this.#connected && !this.#closed) void this.#resubscribe()
    })
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs)
    this.#timer.unref()
  }

  /**
   * Publishes to the other instances, fire-and-forget; a failed publish is queued and retried.
   * Messages of one event-loop turn are merged (consecutive ones of the same type become one), so a
   * burst of writes costs one PUBLISH rather than one per key.
   */
  publish(message: BusMessage): void {
    if (this.#closed) return
    const last = this.#outbox[this.#outbox.length - 1]
    if (last && last.t === message.t && message.t !== 'clear' && last.k.length < MAX_KEYS_PER_MESSAGE) {
      last.k.push(...message.k)
    } else {
      this.#outbox.push({ t: message.t, k: [...message.k] })
    }
    if (this.#outbox.length === 1 && !this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => this.#flush())
    }
  }

  #flush(): void {
    this.#flushScheduled = false
    const messages = this.#outbox
    this.#outbox = []
    for (const message of messages) this.#publishNow(message)
  }

  #publishNow(message: BusMessage): void {
    const text = JSON.stringify({
      o: this.origin,
      s: ++this.#seq,
      t: message.t,
      k: message.k,
    } satisfies WireMessage)
    // While older messages wait for retry, newer ones queue behind them so receivers see them in order.
    if (this.#queue.length > 0) {
      this.#enqueue(text)
      return
    }
    this.#send(text).catch(() => this.#enqueue(text))
  }

  /**
   * PUBLISH with a deadline: a frozen Redis must not hold messages forever. A timed-out publish may
   * still land later (docs/reliability.md E4), so a receiver can see a message twice; dropping L1 keys twice
   * is harmless.
   */
  #send(text: string): Promise<unknown> {
    const published = this.#options.connection.client.publish(this.#channel, text)
    return withDeadline(published, this.#options.timeoutMs ?? 1_000, 'PUBLISH')
  }

  /** Messages waiting to be re-published. */
  get pending(): number {
    return this.#queue.length
  }

  /** Messages received with a pattern that breaks the pattern rules, and so not applied. */
  get rejected(): number {
    return this.#refused
  }

  /** Stops timers and closes the subscriber connection. Queued messages are dropped. */
  async close(): Promise<void> {
    this.#flush()
    this.#closed = true
    clearInterval(this.#timer)
    this.#queue.length = 0
    if (this.#subscriber) await closeClient(this.#subscriber)
  }

  #receive(text: string): void {
    const message = parse(text)
    if (!message || message.o === this.origin) return
    const last = this.#lastSeen.get(message.o)
    if (last === undefined || message.s > last) {
      if (last !== undefined && message.s !== last + 1) {
        this.#gap(`sequence gap from ${message.o}: ${last} then ${message.s}`)
      }
      this.#lastSeen.set(message.o, message.s)
    }
    const refusal = message.t === 'pattern' ? this.#refusePatterns(message.k) : undefined
    if (refusal) {
      // Never matched against L1, yet the invalidation it stood for is lost: report it as a gap.
      this.#refused++
      this.#gap(`invalid pattern from ${message.o}: ${refusal}`)
      return
    }
    try {
      this.#options.onMessage({ t: message.t, k: message.k })
    } catch {
      // A failing handler must not break the subscriber's event loop; the engine logs its own errors.
    }
  }

  /**
   * Why a message's full patterns may not be applied, if one may not: every pattern must stay inside
   * the prefix and pass the engine's rules, so no peer can send this instance what its API refuses.
   */
  #refusePatterns(patterns: readonly string[]): string | undefined {
    const prefix = `${this.#options.prefix}:`
    for (const pattern of patterns) {
      if (!pattern.startsWith(prefix)) return 'outside the prefix'
      try {
        validatePattern(pattern.slice(prefix.length), BUS_PATTERN_LIMITS)
      } catch (error) {
        if (error instanceof InvalidKeyError) return error.message
        throw error
      }
    }
    return undefined
  }

  /** Reports a gap; a throwing handler must not break ioredis' event emitter. */
  #gap(reason: string): void {
    try {
      this.#options.onGap(reason)
    } catch {
      // The engine handles its own errors.
    }
  }

  #lost(reason: string): void {
    if (!this.#connected || this.#closed) return
    this.#connected = false
    this.#gap(reason)
  }

  /** After a reconnect: subscribe (again; harmless if ioredis already did), then report the blind spot. */
  async #resubscribe(): Promise<void> {
    try {
      await this.#subscriber!.subscribe(this.#channel)
    } catch {
      return // The next 'ready' retries.
    }
    if (this.#connected || this.#closed) return
    this.#connected = true
    this.#pings.reset()
    this.#gap('resubscribed after a disconnect')
  }

  #tick(): void {
    void this.#drain()
    if (!this.#subscriber || !this.#connected) return
    this.#pings.tick()
  }

  #enqueue(text: string): void {
    if (this.#closed) return
    if (this.#queue.length < this.#maxQueue) {
      this.#queue.push(text)
      return
    }
    // Never drop invalidations silently (docs/reliability.md C6): replace the backlog with one 'clear'.
    this.#queue.length = 0
    this.#queue.push(
      JSON.stringify({ o: this.origin, s: ++this.#seq, t: 'clear', k: [] } satisfies WireMessage),
    )
  }

  async #drain(): Promise<void> {
    if (this.#draining) return
    this.#draining = true
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        await this.#send(this.#queue[0]!)
        this.#queue.shift()
      }
    } catch {
      // Still failing: retried on the next tick.
    } finally {
      this.#draining = false
    }
  }
}

/** Validates a wire message; anything malformed is ignored (undefined), never thrown. */
function parse(text: string): WireMessage | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { o, s, t, k } = value as Record<string, unknown>
  if (typeof o !== 'string' || !Number.isSafeInteger(s) || typeof t !== 'string' || !TYPES.has(t))
    return undefined
  if (!Array.isArray(k) || !k.every((item) => typeof item === 'string')) return undefined
  return { o, s: s as number, t: t as BusMessage['t'], k }
}
