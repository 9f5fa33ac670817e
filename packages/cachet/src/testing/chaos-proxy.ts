import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'

/** Where the chaos proxy listens and what it forwards to. */
export interface ChaosProxyOptions {
  /** The Redis (or any TCP server) behind the proxy. */
  target: { host?: string; port: number }
  /** Listening address. @default '127.0.0.1' */
  host?: string
  /** Listening port; 0 = a free one. @default 0 */
  port?: number
}

/**
 * A TCP proxy between your client and Redis that can make the network misbehave on demand. Point the
 * cache at `proxy.url` instead of Redis; every fault applies to open connections and new ones alike,
 * until it is lifted (`heal()` lifts them all). Nothing here touches the Redis process itself.
 */
export interface ChaosProxy {
  readonly host: string
  readonly port: number
  /** `redis://host:port` of the proxy. */
  readonly url: string
  /** Connections open through the proxy now. */
  readonly connections: number
  /** Delays every chunk, both ways, by `ms` (order kept); 0 = none. */
  latency(ms: number): void
  /** Holds every byte, both ways, sockets open (a frozen server or a stalled link); `thaw()` delivers them. */
  freeze(): void
  thaw(): void
  /**
   * Discards every byte, both ways, sockets open (a black hole: requests and replies are lost; new
   * connections are accepted and hear nothing). A connection that lost bytes can no longer pair
   * replies with requests: it is reset when the drop is lifted, as a link whose TCP gave up.
   */
  drop(on?: boolean): void
  /** Resets every open connection now (the client sees ECONNRESET); new ones are still accepted. */
  cut(): void
  /** Closes new connections at once (Redis gone); with `cut()`, an outage. */
  refuse(on?: boolean): void
  /** Lifts every fault: no latency, thawed, nothing dropped or refused. */
  heal(): void
  /** Stops listening and closes every connection. */
  close(): Promise<void>
}

/** One direction of a connection: chunks wait here for their latency or a thaw, in order. */
class Lane {
  readonly #queue: Array<{ chunk: Buffer; due: number }> = []
  #timer: NodeJS.Timeout | undefined

  /** True once a chunk was discarded by drop(). */
  lost = false

  constructor(
    readonly to: Socket,
    readonly faults: Faults,
  ) {}

  push(chunk: Buffer): void {
    if (this.faults.dropping) {
      this.lost = true
      return
    }
    this.#queue.push({ chunk, due: Date.now() + this.faults.latencyMs })
    this.pump()
  }

  pump(): void {
    if (this.#timer || this.faults.frozen) return
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!
      const wait = head.due - Date.now()
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined
          this.pump()
        }, wait)
        return
      }
      this.#queue.shift()
      if (!this.to.destroyed) this.to.write(head.chunk)
    }
  }

  clear(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue.length = 0
  }
}

interface Faults {
  latencyMs: number
  frozen: boolean
  dropping: boolean
  refusing: boolean
}

/** One client connection and its upstream twin. */
interface Pair {
  client: Socket
  upstream: Socket
  lanes: Lane[]
}

/** Starts a chaos proxy in front of `options.target`; resolves once it listens. */
export async function startChaosProxy(options: ChaosProxyOptions): Promise<ChaosProxy> {
  const faults: Faults = { latencyMs: 0, frozen: false, dropping: false, refusing: false }
  const pairs = new Set<Pair>()
  const targetHost = options.target.host ?? '127.0.0.1'

  const server: Server = createServer((client) => {
    if (faults.refusing) {
      client.on('error', () => {})
      client.destroy()
      return
    }
    const upstream = connect({ host: targetHost, port: options.target.port })
    const pair: Pair = { client, upstream, lanes: [new Lane(upstream, faults), new Lane(client, faults)] }
    pairs.add(pair)
    const end = () => {
      if (!pairs.delete(pair)) return
      for (const lane of pair.lanes) lane.clear()
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (chunk: Buffer) => pair.lanes[0]!.push(chunk))
    upstream.on('data', (chunk: Buffer) => pair.lanes[1]!.push(chunk))
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true)
      socket.on('error', end)
      socket.on('close', end)
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve())
  })
  const address = server.address() as AddressInfo
  const pumpAll = () => {
    for (const pair of pairs) for (const lane of pair.lanes) lane.pump()
  }
  const reset = (socket: Socket) => socket.resetAndDestroy()
  const resetPair = (pair: Pair) => {
    reset(pair.client)
    reset(pair.upstream)
  }
  const stopDropping = () => {
    faults.dropping = false
    for (const pair of [...pairs]) if (pair.lanes.some((lane) => lane.lost)) resetPair(pair)
  }

  return {
    host: address.address,
    port: address.port,
    url: `redis://${address.address}:${address.port}`,
    get connections() {
      return pairs.size
    },
    latency(ms) {
      if (!(ms >= 0)) throw new RangeError(`latency must be a number of ms >= 0, got ${ms}`)
      faults.latencyMs = ms
    },
    freeze() {
      faults.frozen = true
    },
    thaw() {
      faults.frozen = false
      pumpAll()
    },
    drop(on = true) {
      if (on) faults.dropping = true
      else stopDropping()
    },
    cut() {
      for (const pair of [...pairs]) resetPair(pair)
    },
    refuse(on = true) {
      faults.refusing = on
    },
    heal() {
      Object.assign(faults, { latencyMs: 0, frozen: false, refusing: false })
      stopDropping()
      pumpAll()
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const pair of [...pairs]) {
        pair.client.destroy()
        pair.upstream.destroy()
      }
      await closed
    },
  }
}
