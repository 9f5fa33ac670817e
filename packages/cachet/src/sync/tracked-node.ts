import type { Redis } from 'ioredis'
import { closeClient } from '../tiers/redis/client.js'
import { watchStalls } from '../tiers/redis/stall-watch.js'
import { PingWatch } from './ping-watch.js'

/** The channel Redis publishes tracking invalidations on, for a RESP2 client that redirects them. */
export const INVALIDATION_CHANNEL = '__redis__:invalidate'

/** What enabling tracking on one node gave: on, refused by the server for good, or failed for now. */
export type EnableOutcome = { kind: 'on' } | { kind: 'refused'; reason: string } | { kind: 'failed' }

/** One cache's interest in a node: its keys' prefix and where their invalidations go. */
export interface TrackingMember {
  /** Keys starting with this (the cache's `${prefix}:`) are tracked. */
  keyPrefix: string
  /** Full keys another client wrote, deleted, or Redis expired or evicted. */
  onKeys: (keys: string[]) => void
  /** The node was flushed (FLUSHALL / FLUSHDB). */
  onFlush: () => void
  /** Invalidations may have been lost (a connection dropped) or were not tracked (a reconnect). */
  onGap: (reason: string) => void
  /** The server refused tracking on a reconnect after accepting it before (an ACL changed). */
  onRefused: (reason: string) => void
}

/**
 * A server refusal that retrying cannot fix: CLIENT TRACKING unknown (Redis < 6), a command or the
 * invalidation channel denied by ACL. Anything else (closed connection, timeout) is retried on reconnect.
 */
const REFUSAL = /NOPERM|unknown (sub)?command|EXECABORT|wrong number of arguments/i
/** The subscriber is PINGed this often; this many unanswered and it is taken for dead (as the bus does). */
const PING_INTERVAL_MS = 1_000
const MISSED_PINGS = 2
/**
 * The subscriber is dropped when it awaits a reply (its handshake, CLIENT ID, SUBSCRIBE, a PING) and
 * receives nothing this long: the PINGs only start once it is subscribed.
 */
const SUBSCRIBER_STALL_MS = (MISSED_PINGS + 1) * PING_INTERVAL_MS

/**
 * Tracking is a setting of a connection, so caches sharing one client (with different prefixes)
 * share its TrackedNode: one setting with all their prefixes, one subscriber.
 */
const nodes = new WeakMap<Redis, TrackedNode>()

/** Adds a cache's prefix to the tracking of a data connection; resolves with the outcome. */
export function joinTracking(data: Redis, member: TrackingMember): Promise<EnableOutcome> {
  let node = nodes.get(data)
  if (!node || node.closed) {
    node = new TrackedNode(data)
    nodes.set(data, node)
  }
  return node.join(member)
}

/** Removes a cache's prefix; the last one out switches tracking off and closes the subscriber. */
export function leaveTracking(data: Redis, member: TrackingMember): Promise<void> {
  return nodes.get(data)?.leave(member) ?? Promise.resolve()
}

/** True while the member's prefix is tracked on this data connection and its subscriber connected. */
export function isTracked(data: Redis, member: TrackingMember): boolean {
  return nodes.get(data)?.tracks(member) ?? false
}

/**
 * True when the server behind this data connection reports a key a script writes to the writer
 * despite NOLOOP (Redis 7.0; 7.2 keeps NOLOOP for scripts, redis/redis#11052), as probed when
 * tracking was last switched on; false until probed, or when the probe failed.
 */
export function echoesScriptWrites(data: Redis): boolean {
  return nodes.get(data)?.scriptEchoes ?? false
}

/**
 * Resolves once every invalidation Redis sent to this data connection's subscriber before now has
 * arrived: a PING on the subscriber, answered after them. Rejects if the subscriber cannot answer.
 */
export function afterReports(data: Redis): Promise<unknown> {
  return nodes.get(data)?.pingSubscriber() ?? Promise.resolve()
}

/** A probe write's key and whether its report reached the subscriber. */
interface EchoProbe {
  key: string
  heard: boolean
}

/** Writes the probe key the way cachet's write scripts write entries: from a script. */
const PROBE_SCRIPT = "redis.call('SET', KEYS[1], '1', 'PX', 10000) return 1"

/**
 * Server-assisted invalidation for one Redis node (docs/architecture.md, L1 coherence): the data
 * connection, the one cachet reads and writes through, has `CLIENT TRACKING ON ... BCAST PREFIX
 * <prefix>: NOLOOP` redirected to a second connection subscribed to the invalidation channel. NOLOOP
 * spares this instance its own writes (its L1 already holds what it wrote). Tracking lives and dies
 * with both connections: whichever reconnects, tracking is switched on again (towards the
 * subscriber's new id) and the blind spot is reported as a gap.
 */
class TrackedNode {
  readonly #data: Redis
  readonly #subscriber: Redis
  readonly #members = new Set<TrackingMember>()
  readonly #onDataReady = () => this.#reconnected()
  readonly #onDataClose = () => this.#lost('data connection lost')
  /** The prefixes the last successful CLIENT TRACKING ON registered; empty while not tracking. */
  #tracked = new Set<string>()
  /** Members that were tracked once: a later switch-on follows a blind spot they must hear of. */
  readonly #seen = new WeakSet<TrackingMember>()
  /** The subscriber connection's id while it is subscribed (a subscriber cannot run CLIENT ID). */
  #subscriberId: number | undefined
  /** Counts connection losses, so an attempt that straddled one does not count as tracking on. */
  #losses = 0
  #running: Promise<EnableOutcome> | undefined
  #again = false
  /** Whether the server reports this connection's script writes back to it (see echoesScriptWrites). */
  scriptEchoes = false
  #probe: EchoProbe | undefined
  /**
   * An idle subscriber can be cut off without a close (a NAT or load balancer dropping idle
   * connections): invalidations would then be lost in silence. Unanswered PINGs drop the socket, so
   * the reconnect reports the gap and switches tracking on again.
   */
  readonly #pings = new PingWatch({
    ping: () => this.#subscriber.ping(),
    limit: MISSED_PINGS,
    onSilent: (reason) => {
      this.#pings.reset()
      this.#lost(`tracking connection: ${reason}`)
      this.#subscriber.disconnect(true)
    },
  })
  readonly #timer: NodeJS.Timeout
  readonly #stopWatch: () => void
  closed = false

  constructor(data: Redis) {
    this.#data = data
    // Not a subscriber ioredis re-subscribes by itself: #attempt does, handling the failure.
    this.#subscriber = data.duplicate({
      enableOfflineQueue: true,
      autoResubscribe: false,
      lazyConnect: false,
    })
    this.#subscriber.on('error', () => {}) // The data connection's listeners log Redis trouble.
    this.#stopWatch = watchStalls(this.#subscriber, SUBSCRIBER_STALL_MS)
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
    this.#timer = setInterval(() => {
      if (this.#subscriberId !== undefined && !this.closed) this.#pings.tick()
    }, PING_INTERVAL_MS)
    this.#timer.unref()
  }

  pingSubscriber(): Promise<unknown> {
    return this.#subscriber.ping()
  }

  tracks(member: TrackingMember): boolean {
    return this.#members.has(member) && this.#tracked.has(member.keyPrefix)
  }

  join(member: TrackingMember): Promise<EnableOutcome> {
    this.#members.add(member)
    return this.#schedule()
  }

  async leave(member: TrackingMember): Promise<void> {
    this.#members.delete(member)
    if (this.#members.size > 0) {
      await this.#schedule()
      return
    }
    this.closed = true
    clearInterval(this.#timer)
    this.#stopWatch()
    this.#tracked.clear()
    this.#data.off('ready', this.#onDataReady)
    this.#data.off('close', this.#onDataClose)
    // Leave the data connection as it was: a client passed in by the user outlives the cache.
    if (this.#data.status === 'ready') await this.#data.call('CLIENT', 'TRACKING', 'OFF').catch(() => {})
    await closeClient(this.#subscriber)
  }

  #reconnected(): void {
    if (this.#tracked.size === 0) void this.#schedule()
  }

  /** One attempt at a time; a change during an attempt runs another one after it. */
  #schedule(): Promise<EnableOutcome> {
    if (this.closed) return Promise.resolve({ kind: 'failed' })
    if (this.#running) {
      this.#again = true
      return this.#running.then(() => this.#running ?? this.#schedule())
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

  async #attempt(): Promise<EnableOutcome> {
    const prefixes = new Set([...this.#members].map((member) => member.keyPrefix))
    if (this.#tracked.size > 0 && sameSet(prefixes, this.#tracked)) return { kind: 'on' }
    const losses = this.#losses
    try {
      if (this.#subscriberId === undefined) {
        const id = (await this.#subscriber.client('ID')) as number
        await this.#subscriber.subscribe(INVALIDATION_CHANNEL)
        this.#subscriberId = id
        this.#pings.reset()
      }
      // OFF then ON in one transaction: the prefix list is replaced whole, and no write slips through
      // untracked in between.
      const on = ['CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(this.#subscriberId), 'BCAST']
      for (const prefix of prefixes) on.push('PREFIX', prefix)
      on.push('NOLOOP')
      const replies = await this.#data
        .multi()
        .call('CLIENT', 'TRACKING', 'OFF')
        .call(on[0]!, ...on.slice(1))
        .exec()
      for (const [error] of replies ?? []) if (error) throw error
    } catch (error) {
      const message = describeError(error)
      if (!REFUSAL.test(message)) return { kind: 'failed' }
      // A first refusal is the joining cache's outcome; a later one reaches every cache tracked before.
      for (const member of this.#members) if (this.#seen.has(member)) member.onRefused(message)
      return { kind: 'refused', reason: message }
    }
    this.scriptEchoes = await this.#probeEchoes([...prefixes][0]!)
    // A connection dropped meanwhile: its 'ready' schedules the next attempt.
    if (this.closed || losses !== this.#losses) return { kind: 'failed' }
    const blind = this.#tracked.size === 0
    this.#tracked = prefixes
    for (const member of this.#members) {
      // What L1 took in while tracking was off may have missed an invalidation.
      if (blind && this.#seen.has(member)) member.onGap('tracking switched on again after a reconnect')
      this.#seen.add(member)
    }
    return { kind: 'on' }
  }

  /**
   * Whether the server reports a key this connection writes from a script back to it: a script writes
   * a probe key, then the subscriber is PINGed. Redis sends the report at the end of the turn that ran
   * the script, before the script's reply, so the PING's reply, asked for after the script answered,
   * arrives after it: the answer does not depend on timing. False when the probe fails (nothing is
   * then taken for an own write's report).
   */
  async #probeEchoes(keyPrefix: string): Promise<boolean> {
    const probe: EchoProbe = { key: `${keyPrefix}__echo-probe:${this.#subscriberId}`, heard: false }
    this.#probe = probe
    try {
      await this.#data.eval(PROBE_SCRIPT, 1, probe.key)
      await this.#subscriber.ping()
      return probe.heard
    } catch {
      return false
    } finally {
      this.#probe = undefined
    }
  }

  #receive(message: unknown): void {
    // A flush arrives as a null message; otherwise an array of the keys invalidated together.
    if (message === null) {
      for (const member of this.#members) member.onFlush()
      return
    }
    let keys = (Array.isArray(message) ? message : [message]).map((key) => String(key))
    const probe = this.#probe
    if (probe && keys.includes(probe.key)) {
      probe.heard = true
      keys = keys.filter((key) => key !== probe.key)
    }
    for (const member of this.#members) {
      const mine = keys.filter((key) => key.startsWith(member.keyPrefix))
      if (mine.length > 0) member.onKeys(mine)
    }
  }

  #lost(reason: string): void {
    this.#losses++
    if (this.#tracked.size === 0 || this.closed) return
    this.#tracked = new Set()
    for (const member of this.#members) member.onGap(reason)
  }
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((item) => b.has(item))
}

/** The message of an error, with the errors EXECABORT stands for (ioredis' previousErrors). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const previous = (error as { previousErrors?: Error[] }).previousErrors
  return previous?.length ? `${error.message} (${previous.map((e) => e.message).join('; ')})` : error.message
}
