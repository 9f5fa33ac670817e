import type { Cluster, Redis } from 'ioredis'
import type { OwnWrite, TrackingSource } from '../core/types.js'
import type { RedisConnection } from '../tiers/redis/client.js'
import type { BusMessage } from './bus.js'
import {
  afterReports,
  type EnableOutcome,
  echoesScriptWrites,
  isTracked,
  joinTracking,
  leaveTracking,
  type TrackingMember,
} from './tracked-node.js'

/** Options of Tracking: the bus's contract towards the engine, plus what to do when Redis refuses. */
export interface TrackingOptions {
  connection: RedisConnection
  prefix: string
  /** Keys written, deleted, expired or evicted by anyone else ('set'), or a flush ('clear'). */
  onMessage: (message: BusMessage) => void
  /** Keys reported right after this instance's own script write of them (see expectOwnWrite). */
  onOwnWrites: (keys: string[]) => void
  /** Invalidations may have been lost: L1 becomes suspect. */
  onGap: (reason: string) => void
  /** The server refused tracking after a reconnect, having accepted it before: the bus takes over. */
  onRefused: (reason: string) => void
}

/**
 * Where tracking stands: on (every node tracked), connecting (a node not tracked yet or reconnecting),
 * refused by the server (the bus takes over), or closed.
 */
export type TrackingState = 'on' | 'connecting' | 'refused' | 'closed'

/** Topology events of an ioredis Cluster after which its masters are listed again. */
const TOPOLOGY_EVENTS = ['refresh', '+node', '-node'] as const

/**
 * L1 invalidation by Redis itself (server-assisted client-side caching, docs/architecture.md): every
 * write, delete, expiry or eviction of a key under the prefix by another client reaches this
 * instance, whoever made it (redis-cli, another service). One TrackedNode per Redis node: the one
 * server, or each Cluster master, re-listed when the topology changes.
 */
export class Tracking implements TrackingSource {
  readonly #options: TrackingOptions
  /** Per node (host:port): its data connection and this cache's membership in its tracking. */
  readonly #nodes = new Map<string, { data: Redis; member: TrackingMember }>()
  readonly #onTopology = () => void this.#syncMasters()
  #ended: 'refused' | 'closed' | undefined
  #refusal: string | undefined
  /**
   * This instance's script writes whose own report has not arrived yet, oldest first, by full key (see
   * expectOwnWrite). Emptied on every gap: a report lost with a connection never arrives.
   */
  readonly #ownWrites = new Map<string, Registration[]>()
  /** Own writes Redis applied before their report arrived, waiting for it (ownWriteLanded). */
  #landed: Registration[] = []

  constructor(options: TrackingOptions) {
    this.#options = options
  }

  get state(): TrackingState {
    if (this.#ended) return this.#ended
    const nodes = [...this.#nodes.values()]
    return nodes.length > 0 && nodes.every(({ data, member }) => isTracked(data, member))
      ? 'on'
      : 'connecting'
  }

  /** Why the server refused tracking, when it did. */
  get refusal(): string | undefined {
    return this.#refusal
  }

  expectOwnWrite(fullKey: string): OwnWrite | undefined {
    // On the miss path: one pass over the nodes, no array (the state getter builds one).
    if (this.#ended || this.#nodes.size === 0) return undefined
    for (const { data, member } of this.#nodes.values()) {
      if (!isTracked(data, member) || !echoesScriptWrites(data)) return undefined
    }
    const write = new Registration(fullKey)
    const pending = this.#ownWrites.get(fullKey)
    if (pending) pending.push(write)
    else this.#ownWrites.set(fullKey, [write])
    return write
  }

  withdrawOwnWrite(write: OwnWrite): boolean {
    if (write.reported) return false
    this.#forget(write as Registration)
    return true
  }

  ownWriteLanded(write: OwnWrite): void {
    if (write.reported) return
    this.#landed.push(write as Registration)
    if (this.#landed.length === 1) setImmediate(() => void this.#settleLanded())
  }

  /**
   * One PING per node's subscriber for the writes that landed in one turn: its reply comes after every
   * report Redis sent before their replies, so a write whose report has still not arrived then has lost
   * it, and its registration is withdrawn. A failed PING withdraws them too: a report arriving later
   * then drops the copy, as any report does.
   */
  async #settleLanded(): Promise<void> {
    const writes = this.#landed
    this.#landed = []
    const nodes = [...this.#nodes.values()]
    await Promise.all(nodes.map(({ data }) => afterReports(data))).catch(() => {})
    for (const write of writes) if (!write.reported) this.#forget(write)
  }

  /** A report of the key: it takes the oldest write of it still waiting for one; false when none waits. */
  #takeOwnWrite(fullKey: string): boolean {
    const pending = this.#ownWrites.get(fullKey)
    const write = pending?.shift()
    if (write === undefined) return false
    write.reported = true
    if (pending!.length === 0) this.#ownWrites.delete(fullKey)
    return true
  }

  /** Removes a write's registration (this very write: a later one of the same key keeps its own). */
  #forget(write: Registration): void {
    const pending = this.#ownWrites.get(write.fullKey)
    const at = pending?.indexOf(write) ?? -1
    if (at < 0) return
    pending!.splice(at, 1)
    if (pending!.length === 0) this.#ownWrites.delete(write.fullKey)
  }

  /**
   * Switches tracking on. Resolves with the state after the first attempt: 'on', 'refused' (for
   * good: the caller falls back to the bus), or 'connecting' when Redis did not answer (each
   * reconnect tries again).
   */
  async start(): Promise<TrackingState> {
    const { client, isCluster } = this.#options.connection
    if (!isCluster) {
      this.#settle([await this.#track(key(client as Redis), client as Redis)])
      return this.state
    }
    const cluster = client as Cluster
    for (const event of TOPOLOGY_EVENTS) cluster.on(event, this.#onTopology)
    if (cluster.status !== 'ready') await new Promise((resolve) => cluster.once('ready', resolve))
    await this.#syncMasters()
    return this.state
  }

  async close(): Promise<void> {
    this.#ended = 'closed'
    await this.#stop()
  }

  async #stop(): Promise<void> {
    const { client, isCluster } = this.#options.connection
    if (isCluster) for (const event of TOPOLOGY_EVENTS) client.off(event, this.#onTopology)
    const nodes = [...this.#nodes.values()]
    this.#nodes.clear()
    this.#ownWrites.clear()
    await Promise.all(nodes.map(({ data, member }) => leaveTracking(data, member)))
  }

  /** Tracks every current master once; stops tracking nodes that are no longer masters. */
  async #syncMasters(): Promise<void> {
    if (this.#ended) return
    const cluster = this.#options.connection.client as Cluster
    const masters = new Map(cluster.nodes('master').map((node) => [key(node), node]))
    for (const [id, { data, member }] of this.#nodes) {
      if (masters.get(id) !== data) {
        this.#nodes.delete(id)
        void leaveTracking(data, member)
      }
    }
    const added = [...masters].filter(([id]) => !this.#nodes.has(id))
    // Keys of the slots a new master serves may have been written before it was tracked.
    const joined = this.#nodes.size > 0 && added.length > 0
    const outcomes = await Promise.all(added.map(([id, node]) => this.#track(id, node)))
    this.#settle(outcomes)
    if (joined && !this.#ended) this.#gap('a new cluster master is tracked')
  }

  #track(id: string, data: Redis): Promise<EnableOutcome> {
    const member: TrackingMember = {
      keyPrefix: `${this.#options.prefix}:`,
      // A tracking message does not say whether the key was written or deleted: 'set' also wakes
      // the callers waiting for another process's load, and they read Redis either way.
      // The first report of a key after this instance's own script write of it stands for that write,
      // and perhaps for another client's right after it (expectOwnWrite).
      onKeys: (keys) => {
        if (this.#ownWrites.size === 0) {
          this.#options.onMessage({ t: 'set', k: keys })
          return
        }
        const own = keys.filter((k) => this.#takeOwnWrite(k))
        const others = own.length === 0 ? keys : keys.filter((k) => !own.includes(k))
        if (own.length > 0) this.#options.onOwnWrites(own)
        if (others.length > 0) this.#options.onMessage({ t: 'set', k: others })
      },
      onFlush: () => this.#options.onMessage({ t: 'clear', k: [] }),
      onGap: (reason) => this.#gap(reason),
      onRefused: (reason) => {
        if (this.#refuse(reason)) this.#options.onRefused(reason)
      },
    }
    this.#nodes.set(id, { data, member })
    return joinTracking(data, member)
  }

  /** Reports may have been lost: the own writes awaiting theirs will never see them. */
  #gap(reason: string): void {
    this.#ownWrites.clear()
    this.#options.onGap(reason)
  }

  /** A refusal by any node ends tracking everywhere: a partial view would look coherent and not be. */
  #settle(outcomes: EnableOutcome[]): void {
    const refused = outcomes.find((outcome) => outcome.kind === 'refused')
    if (refused?.kind === 'refused') this.#refuse(refused.reason)
  }

  /** Ends tracking for good; false when it had ended already. */
  #refuse(reason: string): boolean {
    if (this.#ended) return false
    this.#ended = 'refused'
    this.#refusal = reason
    void this.#stop()
    return true
  }
}

/** A node's identity across topology refreshes. */
function key(node: Redis): string {
  return `${node.options.host}:${node.options.port}`
}

/** One own script write registered by expectOwnWrite. */
class Registration implements OwnWrite {
  reported = false
  constructor(readonly fullKey: string) {}
}
