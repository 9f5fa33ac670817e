import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import type { RedisInput } from '../../core/options.js'
import { corkPerTick } from './cork.js'
import { isSentinelUrl, parseSentinelUrl } from './sentinel-url.js'
import { watchStalls } from './stall-watch.js'

/** Connection lifecycle events forwarded from ioredis. */
export type RedisEvent = 'connect' | 'ready' | 'error' | 'close' | 'reconnecting' | 'end'

/** Options of connectRedis(). */
export interface ConnectOptions {
  /** Deadline of every command, in ms (enforced by L2Guard; here it sizes the socket timeout). */
  timeoutMs: number
  /** Send the commands of one event-loop tick in one socket write (see cork.ts). @default false */
  corkPerTick?: boolean
  /** Lifecycle events of the data connection (and of its duplicates). */
  onEvent?: (state: RedisEvent, error?: Error) => void
}

/** The Redis client cachet talks to, and whether cachet owns it. */
export interface RedisConnection {
  client: Redis | Cluster
  isCluster: boolean
  /** True when cachet created the client (and so closes it); false for a client the user passed in. */
  owned: boolean
  /**
   * A new connection with the same settings, for pub/sub; it does not re-subscribe after a reconnect
   * (the caller does, handling errors). Closed by close() unless closed before.
   */
  duplicate(): Redis | Cluster
  /** Closes the owned client and every duplicate; leaves a user's client open. */
  close(): Promise<void>
}

const EVENTS: readonly RedisEvent[] = ['connect', 'ready', 'error', 'close', 'reconnecting', 'end']
const CLOSE_WAIT_MS = 1_000

/**
 * Settings listed in docs/reliability.md (Redis client settings): no command waits longer than the
 * deadline, a frozen or half-open socket is detected, nothing is re-sent after a reconnect (a timed-out
 * write may already have landed, E4), and reconnects back off with jitter.
 */
function reliabilityOptions(): RedisOptions {
  return {
    // No commandTimeout: the guard bounds every engine call at timeoutMs and, unlike a bare timer, does
    // not mistake a busy event loop for a slow Redis (see L2Guard.run). ioredis' per-command timer cost
    // a lone GET about 5 µs of CPU (a third of the command's own cost); the stall watch (or, on a
    // Cluster's node clients, socketTimeout) still ends any call on a frozen or half-open connection.
    // The duplicates (subscribers) keep one, see duplicate().
    maxRetriesPerRequest: 1,
    // No enableAutoPipelining: it defers single commands to the next tick but sends explicit pipelines
    // at once, so a set followed by an invalidation could reach Redis in the opposite order.
    autoResendUnfulfilledCommands: false,
    connectTimeout: 1_000,
    keepAlive: 10_000,
    retryStrategy: reconnectDelay,
  }
}

/**
 * Under Sentinel (docs/scale.md): ask the sentinels again with the same back-off, each bounded, and
 * follow a failover as soon as a sentinel announces it (+switch-master) rather than on the next error.
 */
function sentinelOptions(timeoutMs: number): RedisOptions {
  return {
    sentinelRetryStrategy: reconnectDelay,
    sentinelCommandTimeout: backstopMs(timeoutMs),
    failoverDetector: true,
  }
}

/** Reconnect back-off: 50 ms more per attempt up to 2 s, with jitter so instances do not retry in step. */
function reconnectDelay(attempt: number): number {
  return Math.min(50 * attempt, 2_000) + Math.floor(Math.random() * 50)
}

/**
 * How long a connection awaiting replies may receive nothing before it is dropped (frozen server,
 * half-open connection) and ioredis reconnects: a second past the client-side command timeout.
 */
function stallMs(timeoutMs: number): number {
  return backstopMs(timeoutMs) + 1_000
}

/** The client-side command timeout: well past the guard's deadline, so the guard decides first. */
function backstopMs(timeoutMs: number): number {
  return Math.max(1_000, 4 * timeoutMs)
}

/** True for an ioredis Redis or Cluster instance (duck-typed: the user's ioredis copy may differ from ours). */
function isClient(input: unknown): input is Redis | Cluster {
  return (
    typeof input === 'object' &&
    input !== null &&
    typeof (input as { sendCommand?: unknown }).sendCommand === 'function'
  )
}

function isClusterInput(input: unknown): input is { cluster: ClusterNode[]; options?: ClusterOptions } {
  return (
    typeof input === 'object' && input !== null && Array.isArray((input as { cluster?: unknown }).cluster)
  )
}

/**
 * Opens (or adopts) the Redis connection of a cache. A URL (`redis://`, `rediss://` or
 * `redis+sentinel://`), RedisOptions (with `sentinels` and `name` for Sentinel) or `{ cluster: nodes }` gives a
 * client cachet owns, configured for bounded waits (cachet's reliability settings override the same keys
 * in options you pass; pass your own client to control them). A client passed in is used as is.
 */
export function connectRedis(input: Exclude<RedisInput, false>, options: ConnectOptions): RedisConnection {
  const duplicates = new Set<Redis | Cluster>()
  let client: Redis | Cluster
  let owned = true

  if (isClient(input)) {
    client = input
    owned = false
  } else if (isClusterInput(input)) {
    const reliability = reliabilityOptions()
    client = new Cluster(input.cluster, {
      ...input.options,
      enableOfflineQueue: true,
      clusterRetryStrategy: reconnectDelay,
      // Node clients are made by ioredis as it discovers the nodes: they keep its socketTimeout.
      redisOptions: {
        ...input.options?.redisOptions,
        ...reliability,
        socketTimeout: stallMs(options.timeoutMs),
      },
    })
  } else if (typeof input === 'string' && !isSentinelUrl(input)) {
    client = new Redis(input, { ...reliabilityOptions(), enableOfflineQueue: true })
  } else {
    const settings = typeof input === 'string' ? parseSentinelUrl(input) : input
    client = new Redis({
      ...settings,
      ...reliabilityOptions(),
      ...(settings.sentinels && sentinelOptions(options.timeoutMs)),
      enableOfflineQueue: true,
    })
  }

  attachListeners(client, options.onEvent)
  /** Stall watches of this connection and its duplicates, stopped by close(). */
  const watches: Array<() => void> = []
  if (owned && !(client instanceof Cluster)) {
    watches.push(watchStalls(client, stallMs(options.timeoutMs)))
    if (options.corkPerTick) corkPerTick(client)
  }
  if (owned) {
    // Commands issued while the first connection is being made wait in the offline queue (bounded by
    // the guard, and by maxRetriesPerRequest); after that, a disconnected client fails commands at once.
    client.once('ready', () => {
      client.options.enableOfflineQueue = false
    })
  }

  return {
    client,
    isCluster: client instanceof Cluster || (client as { isCluster?: boolean }).isCluster === true,
    owned,
    duplicate() {
      // The duplicate keeps an offline queue (its PINGs are bounded by its commandTimeout). It does
      // not re-subscribe by itself: ioredis does that without handling the reply, so a connection that
      // closes right after 'ready' raises an unhandled "Connection is closed" rejection — which ends a
      // Node process. The Bus re-subscribes on 'ready' itself, and handles the failure.
      const settings = {
        enableOfflineQueue: true,
        autoResubscribe: false,
        ...(owned && { commandTimeout: backstopMs(options.timeoutMs) }),
      }
      const copy =
        client instanceof Cluster
          ? client.duplicate(undefined, settings)
          : (client as Redis).duplicate(settings)
      attachListeners(copy, options.onEvent)
      // A subscriber awaits its SUBSCRIBE and PING replies like any connection: a frozen one is dropped.
      if (owned && !(copy instanceof Cluster)) watches.push(watchStalls(copy, stallMs(options.timeoutMs)))
      duplicates.add(copy)
      copy.once('end', () => duplicates.delete(copy))
      return copy
    },
    async close() {
      for (const stop of watches.splice(0)) stop()
      const closing = [...duplicates].map(closeClient)
      if (owned) closing.push(closeClient(client))
      await Promise.all(closing)
    },
  }
}

function attachListeners(client: Redis | Cluster, onEvent: ConnectOptions['onEvent']): void {
  // An 'error' listener must always exist, or ioredis prints "Unhandled error event" on every retry.
  for (const event of EVENTS) {
    client.on(event, (error?: unknown) => {
      onEvent?.(event, event === 'error' && error instanceof Error ? error : undefined)
    })
  }
}

/** Closes a client: QUIT politely; if Redis does not answer in time (frozen, dead), drop the socket. */
export async function closeClient(client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_WAIT_MS)
  })
  await Promise.race([client.quit().then(noop, noop), timeout])
  clearTimeout(timer)
  client.disconnect()
}

function noop(): void {}
