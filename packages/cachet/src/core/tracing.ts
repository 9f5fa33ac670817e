import { AsyncLocalStorage } from 'node:async_hooks'
import diagnosticsChannel from 'node:diagnostics_channel'
import type { Cache } from './cache.js'
import type { Tier } from './cache-api.js'
import { engineOf } from './engine-of.js'
import { namespaceOf } from './keys.js'

/** The Cache methods published on a TracingChannel named `cachet:<operation>` (docs/observability.md). */
export const TRACED_OPERATIONS = [
  'getOrSet',
  'getOrSetResult',
  'get',
  'set',
  'delete',
  'deleteMany',
  'has',
  'expire',
  'getMany',
  'setMany',
  'getOrSetMany',
  'invalidateTags',
  'deleteByPattern',
  'clear',
] as const

export type TracedOperation = (typeof TRACED_OPERATIONS)[number]

/**
 * The context object of one traced call. `start` subscribers get the fields known before the call;
 * `outcome`, `tier`, `hits` and `misses` are filled in before `asyncEnd`; Node adds `result` (what the
 * call resolved) or `error`.
 */
export interface CacheOperationMessage {
  operation: TracedOperation
  /** The cache's prefix. */
  prefix: string
  /** The key's first segment ('users' for 'users:42'), within the namespace view; never the key. */
  namespace?: string
  /** The key, for single-key operations: subscribers decide whether to record it. */
  key?: string
  /** Keys of a batch operation. */
  keyCount?: number
  tags?: readonly string[]
  /** Single-key reads: how the call was answered. */
  outcome?: 'hit' | 'miss' | 'stale'
  /** The tier of a hit or stale answer. */
  tier?: Tier
  /** Batch reads: how many keys hit and missed. */
  hits: number
  misses: number
  result?: unknown
  error?: unknown
}

const channels = Object.fromEntries(
  TRACED_OPERATIONS.map((operation) => [operation, diagnosticsChannel.tracingChannel(`cachet:${operation}`)]),
) as Record<TracedOperation, diagnosticsChannel.TracingChannel<object, CacheOperationMessage>>

/** The call being traced in this async context: the engine's hit/miss/stale events annotate it. */
const current = new AsyncLocalStorage<CacheOperationMessage>()
const watched = new WeakSet<object>()
let installed = false

/**
 * Publishes every call of the Cache methods above on its TracingChannel. A call costs one check of
 * `hasSubscribers` while nobody listens; once someone does, the engine's hit, miss and stale events
 * (emitted within the call's async context) tell the outcome. Idempotent.
 */
export function traceCacheMethods(prototype: Cache): void {
  if (installed) return
  installed = true
  const methods = prototype as unknown as Record<TracedOperation, (...args: unknown[]) => Promise<unknown>>
  for (const operation of TRACED_OPERATIONS) {
    const original = methods[operation]
    const channel = channels[operation]
    // Three fixed parameters (every traced method takes at most three), not a rest array: while nobody
    // listens, a call costs one property check and no allocation (an L1 hit is a few hundred ns).
    methods[operation] = function traced(this: Cache, a?: unknown, b?: unknown, c?: unknown) {
      if (!channel.hasSubscribers) return original.call(this, a, b, c)
      const args = [a, b, c]
      const message = describeCall(operation, this, args)
      watchOutcomes(this)
      return current.run(message, () => channel.tracePromise(original, message, this, ...args))
    }
  }
}

function describeCall(operation: TracedOperation, cache: Cache, args: unknown[]): CacheOperationMessage {
  const message: CacheOperationMessage = { operation, prefix: cache.prefix, hits: 0, misses: 0 }
  const [first, , third] = args
  if (typeof first === 'string') {
    message.key = cache.scope + first
    message.namespace = namespaceOf(message.key)
  } else if (Array.isArray(first)) {
    message.keyCount = first.length
    if (operation === 'invalidateTags') message.tags = first as string[]
  }
  const options = operation === 'set' || operation.startsWith('getOrSet') ? third : undefined
  const tags = (options as { tags?: unknown } | undefined)?.tags
  if (Array.isArray(tags)) message.tags = tags as string[]
  return message
}

/** Once per engine: its hit, miss and stale events annotate the traced call they happen in. */
function watchOutcomes(cache: Cache): void {
  const engine = engineOf(cache)
  if (watched.has(engine)) return
  watched.add(engine)
  engine.emitter.on('hit', ({ tier }) => {
    const message = current.getStore()
    if (!message) return
    message.hits++
    if (message.outcome === undefined) Object.assign(message, { outcome: 'hit', tier })
  })
  engine.emitter.on('miss', () => {
    const message = current.getStore()
    if (!message) return
    message.misses++
    message.outcome ??= 'miss'
  })
  engine.emitter.on('stale', () => {
    const message = current.getStore()
    if (message && (message.outcome === undefined || message.outcome === 'miss')) message.outcome = 'stale'
  })
}
