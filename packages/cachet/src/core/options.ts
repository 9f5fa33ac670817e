import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import type { AdvisorOption } from './advisor.js'
import { checkSignal } from './cancel.js'
import { type Duration, toMs, toMsOrOff } from './duration.js'
import { InvalidOptionError } from './errors.js'
import { validateTag } from './keys.js'
import { callSchema, type Migrate, type ValueSchema } from './schema-option.js'
import type { CompressionOptions, Serializer } from './types.js'

/** Where L2 lives: a URL (redis://, rediss://, redis+sentinel://host:port,…/name), an ioredis client or Cluster you own, cluster nodes, ioredis options, or false (L1 only). */
export type RedisInput =
  | string
  | Redis
  | Cluster
  | { cluster: ClusterNode[]; options?: ClusterOptions }
  | RedisOptions
  | false

/** The sources of L1 invalidation across instances (see CacheOptions.l1.invalidation). */
export type L1Invalidation = 'tracking' | 'bus' | 'both'

const L1_INVALIDATIONS: readonly L1Invalidation[] = ['tracking', 'bus', 'both']

/**
 * A `ttlRules` entry with its own L1 lifetime: `{ ttl: '1h', l1Ttl: '5s' }` keeps matching keys fresh
 * an hour in Redis, but each instance keeps its L1 copy 5 s at most, then reads Redis again.
 */
export interface TtlRule {
  ttl: Duration
  /** At most this long in L1 (fresh or stale); at most `l1.maxTtl`. */
  l1Ttl?: Duration
}

/** A threshold of the adaptive TTL: loaders slower than `slowerThan` get `ttl`. */
export interface AdaptiveTtlRule {
  slowerThan: Duration
  ttl: Duration
}

/** Options of createCache(). Every duration is milliseconds or a string such as '30s'. */
export interface CacheOptions {
  /** L2: a Redis or `redis+sentinel://` URL, an ioredis instance or Cluster, `{ cluster: nodes }`, `{ sentinels, name }`, or false for L1 only. @default false */
  redis?: RedisInput
  /** Every key cachet writes starts with `${prefix}:`. Must not be empty. @default 'cache' */
  prefix?: string
  /** Default freshness. @default '5m' */
  ttl?: Duration
  /** How long a stale value is kept past its ttl for fail-safe and stale-while-revalidate; false = off. @default '1h' */
  grace?: Duration | false
  /** Smart TTL by key prefix: the longest matching prefix wins over the default ttl; a rule may set its own `l1Ttl`. */
  ttlRules?: Record<string, Duration | TtlRule>
  /** Random spread applied to every ttl, as a fraction: 0.1 = ±10%. @default 0.1 */
  jitter?: number
  /** TTL from the loader's duration; true = the SQL `QueryCache`'s thresholds. @default false */
  adaptiveTtl?: boolean | AdaptiveTtlRule[]
  /**
   * In-process tier; false = Redis only. Bounded by `maxBytes` (default 64 MiB) and, when set, by
   * `maxItems` entries: whichever is reached first evicts the least recently used.
   */
  l1?:
    | {
        maxBytes?: number
        maxItems?: number
        maxEntryBytes?: number
        maxTtl?: Duration
        /**
         * What drops L1 copies another client made obsolete. 'tracking': Redis tells this instance
         * about every write, delete, expiry or eviction under the prefix, whoever made it (Redis 6+,
         * `CLIENT TRACKING`); 'bus': cachet instances tell each other (pub/sub); 'both'. Where Redis
         * refuses tracking (older than 6, ACL), the bus takes over. @default 'both'
         */
        invalidation?: L1Invalidation
      }
    | false
  /** Redis tier bounds. */
  l2?: {
    /** Deadline of every Redis command. @default '100ms' */
    timeout?: Duration
    /** Open the circuit after `threshold` consecutive failures, for `duration`. @default { threshold: 3, duration: '5s' } */
    circuitBreaker?: { threshold?: number; duration?: Duration } | false
    /**
     * Values larger than this (after compression) are not written to Redis; one whose serialised form
     * exceeds 4× this (1× without compression) is refused before it is compressed. @default 1 MiB
     */
    maxValueBytes?: number
    /**
     * Repeats an L2 call that failed on a transient fault (timeout, lost connection, Redis loading or
     * failing over), for calls safe to repeat only, and only when the repeat can finish within the soft
     * timeout (docs/reliability.md, retries). `attempts` counts the first; waits `delay`, then
     * `delay × factor`, … between them. false = off. @default `SEED_RETRY`: 3 attempts, 100 ms, ×2
     */
    retry?: { attempts?: number; delay?: Duration; factor?: number } | false
  }
  /** Compress payloads above a threshold. @default { threshold: 1024, algorithm: 'gzip', level: 6 } */
  compression?: Partial<CompressionOptions> | false
  /** 'json' keeps Date, BigInt, Map, Set, undefined-in-arrays; 'msgpack' is binary. @default 'json' */
  serializer?: 'json' | 'msgpack' | Serializer
  /** Loader timeouts: soft = serve stale after this (only when a stale value exists); hard = give up. */
  timeouts?: { soft?: Duration | false; hard?: Duration | false }
  /** Distributed stampede lock; false = single-flight in process only. @default { ttl: '30s', wait: '5s' } */
  lock?: { ttl?: Duration; wait?: Duration } | false
  /** Probabilistic early refresh (XFetch); beta > 1 refreshes earlier. false = off. @default { beta: 1 } */
  earlyRefresh?: { beta?: number } | false
  /** After a loader failure, serve the stale value this long before trying the loader again. @default '10s' */
  graceBackoff?: Duration
  /**
   * Loaders run at once in this instance, across all keys; further callers wait for a slot (up to their
   * hard timeout) or, when they hold a stale value, are served it. @default 32
   */
  maxConcurrentLoads?: number
  /**
   * L1 invalidation across instances over Redis pub/sub; false = never, not even where Redis refuses
   * tracking (see l1.invalidation). @default true when redis is set
   */
  bus?: boolean
  /** A pino logger; false = silent. @default a pino logger at 'warn' */
  logger?: Logger | false
  /**
   * Start-up advice on risky settings (docs/advisor.md): logged, emitted as `advice`, listed in health().
   * false = off; `ignore` silences chosen codes. @default on
   */
  advisor?: AdvisorOption
}

/** Options of one call; they override the cache's defaults. */
export interface CallOptions<T = unknown> extends SchemaOptions<T> {
  ttl?: Duration
  /**
   * How long L1 keeps this value at most (fresh or stale), then reads Redis again (never the loader):
   * e.g. 5 s in memory, 1 h in Redis. At most `l1.maxTtl`. @default the key's ttlRules entry, else l1.maxTtl
   */
  l1Ttl?: Duration
  grace?: Duration | false
  tags?: readonly string[]
  timeouts?: { soft?: Duration | false; hard?: Duration | false }
  /** Run the loader even when a fresh value exists (an admin action; never wire it to a request header). */
  forceRefresh?: boolean
  /** Override the cache's adaptive TTL for this call. */
  adaptiveTtl?: boolean
  /** false: no probabilistic early refresh for this call (e.g. a loader that needs a live request). */
  earlyRefresh?: boolean
  /**
   * Ends this call's wait when it aborts (lock wait, timeouts, another caller's load), rejecting with
   * the signal's reason; an aborted signal throws before anything runs. The load itself goes on for the
   * other callers; its loader's `ctx.signal` aborts only when every caller waiting for it left.
   */
  signal?: AbortSignal
}

/** A Standard Schema (zod, valibot, arktype…) that cached values are checked against, per call or per namespace. */
export interface SchemaOptions<T = unknown> {
  /**
   * Cached values (L1 or Redis) it refuses are misses (counted as `invalid`), and the loader's own
   * value must pass it (else SchemaMismatchError, nothing cached). Checked, never transformed.
   */
  schema?: StandardSchemaV1<unknown, T>
  /** Turns a refused cached value into one the schema accepts (written back), or undefined. */
  migrate?: Migrate<T>
}

/** Options of get(). */
export interface GetOptions<T = unknown> extends SchemaOptions<T> {
  /** Also answer a stale value (past its ttl, within grace). */
  allowStale?: boolean
  /** Ends the wait when it aborts (see CallOptions.signal). */
  signal?: AbortSignal
}

/** Options of getMany(). */
export type ManyOptions<T = unknown> = SchemaOptions<T> & Pick<CallOptions, 'signal'>

/** Options of getOrSetMany(). */
export type ManyLoadOptions<T = unknown> = StoreOptions & ManyOptions<T>

/** The options of a call that stores a value (set, setMany, getOrSetMany, wrap). */
export type StoreOptions = Pick<CallOptions, 'ttl' | 'l1Ttl' | 'grace' | 'tags'>

/** The options of one call, validated and resolved when the call starts (before any loader runs). */
export interface CallContext {
  /** The call's own ttl in ms; undefined = the key's rule or the cache's default. */
  ttlMs: number | undefined
  /** The call's own L1 lifetime in ms; undefined = the key's rule, else l1.maxTtl. */
  l1TtlMs: number | undefined
  graceMs: number
  tags: readonly string[]
  adaptive: boolean | undefined
  softMs: number
  hardMs: number
  force: boolean
  earlyRefresh: boolean
  /** The caller's signal; undefined when it gave none (then nothing is listened to). */
  signal: AbortSignal | undefined
  /** The schema cached values are checked against; undefined when none. */
  schema: ValueSchema | undefined
}

/**
 * Validates and resolves the options of one call. Throws InvalidOptionError or InvalidKeyError (a bad
 * tag) at once, so a call with a bad option never runs its loader.
 */
export function resolveCall(
  options: ResolvedOptions,
  call: CallOptions,
  defaults?: ValueSchema,
): CallContext {
  const hardMs = timeoutMs(call.timeouts?.hard, options.hardTimeoutMs, 'timeouts.hard')
  const tags = call.tags ?? []
  for (const tag of tags) validateTag(tag)
  return {
    ttlMs: call.ttl === undefined ? undefined : positiveMs(call.ttl, 'ttl'),
    l1TtlMs: call.l1Ttl === undefined ? undefined : l1TtlMs(options, call.l1Ttl, 'l1Ttl'),
    graceMs: toMsOrOff(call.grace, options.graceMs, 'grace'),
    // Once each: the write-back's epochs are matched to the stored tags by position.
    tags: tags.length > 1 && new Set(tags).size < tags.length ? [...new Set(tags)] : tags,
    adaptive: call.adaptiveTtl,
    softMs: Math.min(hardMs, timeoutMs(call.timeouts?.soft, options.softTimeoutMs, 'timeouts.soft')),
    hardMs,
    force: call.forceRefresh === true,
    earlyRefresh: call.earlyRefresh !== false,
    signal: checkSignal(call.signal),
    schema: callSchema(call, defaults),
  }
}

/** A duration greater than zero (a per-call ttl). */
export function positiveMs(input: Duration, name: string): number {
  const ms = toMs(input, name)
  if (ms <= 0) throw new InvalidOptionError(`${name} must be greater than 0, got ${JSON.stringify(input)}`)
  return ms
}

/** An L1 lifetime: greater than 0 and no longer than l1.maxTtl (the bound every L1 copy keeps). */
function l1TtlMs(options: Pick<ResolvedOptions, 'l1'>, input: Duration, name: string): number {
  const ms = positiveMs(input, name)
  if (options.l1 && ms > options.l1.maxTtlMs) {
    throw new InvalidOptionError(
      `${name} must be at most l1.maxTtl (${options.l1.maxTtlMs} ms), got ${ms} ms`,
    )
  }
  return ms
}

/** Options resolved once: every duration in ms, every default filled in. */
export interface ResolvedOptions {
  prefix: string
  ttlMs: number
  graceMs: number
  ttlRules: Array<{ prefix: string; ttlMs: number; l1TtlMs?: number }>
  jitter: number
  adaptiveTtl: Array<{ slowerThanMs: number; ttlMs: number }> | false
  l1:
    | {
        maxBytes: number
        maxItems?: number
        maxEntryBytes: number
        maxTtlMs: number
        invalidation: L1Invalidation
      }
    | false
  l2: {
    timeoutMs: number
    breaker: { threshold: number; durationMs: number } | false
    maxValueBytes: number
    retry: { attempts: number; delayMs: number; factor: number } | false
  }
  compression: CompressionOptions | false
  /** Infinity when off; 0 = serve stale at once (stale-while-revalidate). */
  softTimeoutMs: number
  /** Infinity when off. */
  hardTimeoutMs: number
  lock: { ttlMs: number; waitMs: number } | false
  earlyRefreshBeta: number
  graceBackoffMs: number
  maxConcurrentLoads: number
  bus: boolean
}

/** Seed 001's retry strategy: 3 attempts, 0.1 s apart at first, the wait doubling each time. */
export const SEED_RETRY = Object.freeze({ attempts: 3, delay: '100ms', factor: 2 } as const)

/** The SQL `QueryCache`'s adaptive TTL: > 10 s → 30 min, > 5 s → 10 min, > 1 s → 5 min, else 1 min. */
export const SEED_ADAPTIVE_TTL: AdaptiveTtlRule[] = [
  { slowerThan: '10s', ttl: '30m' },
  { slowerThan: '5s', ttl: '10m' },
  { slowerThan: '1s', ttl: '5m' },
  { slowerThan: 0, ttl: '1m' },
]

/**
 * Seed 004's TTL strategy by key prefix (§4.3), as `ttlRules`: longest prefix wins, and a key no rule
 * matches gets the cache's `ttl`, whose default (5 min) is the seed's default too.
 */
export const SEED_TTL_RULES: Readonly<Record<string, Duration>> = Object.freeze({
  'stock:available': '1m',
  'dashboard:realtime': '2m',
  'orders:recent': '3m',
  'dashboard:stats': '5m',
  'users:count': '10m',
  'products:popular': '15m',
  'blog:articles': '30m',
  'suppliers:list': '30m',
  'seo:stats': '1h',
  'manufacturers:list': '1h',
  'vehicles:brands': '1h',
  'config:main': '1h',
  'static:content': '2h',
  'legal:terms': '4h',
})

const PREFIX_PATTERN = /^[A-Za-z0-9_.-]+$/

/** Validates createCache() options and fills in defaults. Throws InvalidOptionError naming the option. */
export function resolveOptions(options: CacheOptions): ResolvedOptions {
  const prefix = options.prefix ?? 'cache'
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InvalidOptionError(
      `prefix must be a non-empty string of letters, digits, '_', '-' or '.'; got ${JSON.stringify(prefix)}`,
    )
  }
  const jitter = options.jitter ?? 0.1
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
    throw new InvalidOptionError(`jitter must be a fraction in [0, 1), got ${jitter}`)
  }
  const adaptiveRules =
    options.adaptiveTtl === true ? SEED_ADAPTIVE_TTL : options.adaptiveTtl ? options.adaptiveTtl : false
  const l1 = options.l1 === false ? false : (options.l1 ?? {})
  const l2 = options.l2 ?? {}
  const breaker = l2.circuitBreaker === false ? false : (l2.circuitBreaker ?? {})
  const compression = options.compression === false ? false : (options.compression ?? {})
  const lock = options.lock === false ? false : (options.lock ?? {})
  const earlyRefresh = options.earlyRefresh === false ? false : (options.earlyRefresh ?? {})
  const resolvedL1 = l1 && {
    maxBytes: positiveInt(l1.maxBytes ?? 64 * 1024 * 1024, 'l1.maxBytes'),
    ...(l1.maxItems !== undefined && { maxItems: positiveInt(l1.maxItems, 'l1.maxItems') }),
    maxEntryBytes: positiveInt(l1.maxEntryBytes ?? 1024 * 1024, 'l1.maxEntryBytes'),
    maxTtlMs: positive(toMs(l1.maxTtl ?? '60s', 'l1.maxTtl'), 'l1.maxTtl'),
    invalidation: oneOf(l1.invalidation ?? 'both', L1_INVALIDATIONS, 'l1.invalidation'),
  }

  return {
    prefix,
    ttlMs: positive(toMs(options.ttl ?? '5m', 'ttl'), 'ttl'),
    graceMs: toMsOrOff(options.grace, 3_600_000, 'grace'),
    ttlRules: resolveTtlRules(options.ttlRules ?? {}, resolvedL1),
    jitter,
    adaptiveTtl: adaptiveRules
      ? adaptiveRules
          .map((rule, i) => ({
            slowerThanMs: toMs(rule.slowerThan, `adaptiveTtl[${i}].slowerThan`),
            ttlMs: positive(toMs(rule.ttl, `adaptiveTtl[${i}].ttl`), `adaptiveTtl[${i}].ttl`),
          }))
          .sort((a, b) => b.slowerThanMs - a.slowerThanMs)
      : false,
    l1: resolvedL1,
    l2: {
      timeoutMs: positive(toMs(l2.timeout ?? '100ms', 'l2.timeout'), 'l2.timeout'),
      breaker: breaker && {
        threshold: positiveInt(breaker.threshold ?? 3, 'l2.circuitBreaker.threshold'),
        durationMs: positive(
          toMs(breaker.duration ?? '5s', 'l2.circuitBreaker.duration'),
          'l2.circuitBreaker.duration',
        ),
      },
      maxValueBytes: positiveInt(l2.maxValueBytes ?? 1024 * 1024, 'l2.maxValueBytes'),
      retry: resolveRetry(l2.retry),
    },
    compression: compression && resolveCompression(compression),
    softTimeoutMs: timeoutMs(options.timeouts?.soft, 50, 'timeouts.soft'),
    hardTimeoutMs: timeoutMs(options.timeouts?.hard, 10_000, 'timeouts.hard'),
    lock: lock && {
      ttlMs: positive(toMs(lock.ttl ?? '30s', 'lock.ttl'), 'lock.ttl'),
      waitMs: toMs(lock.wait ?? '5s', 'lock.wait'),
    },
    earlyRefreshBeta: earlyRefresh ? nonNegative(earlyRefresh.beta ?? 1, 'earlyRefresh.beta') : 0,
    graceBackoffMs: toMs(options.graceBackoff ?? '10s', 'graceBackoff'),
    maxConcurrentLoads: positiveInt(options.maxConcurrentLoads ?? 32, 'maxConcurrentLoads'),
    bus: options.bus ?? options.redis !== undefined,
  }
}

/** ttlRules, longest prefix first; a rule given as `{ ttl, l1Ttl }` keeps its L1 lifetime. */
function resolveTtlRules(
  rules: Record<string, Duration | TtlRule>,
  l1: ResolvedOptions['l1'],
): ResolvedOptions['ttlRules'] {
  return Object.entries(rules)
    .map(([prefix, rule]) => {
      const name = `ttlRules['${prefix}']`
      if (typeof rule !== 'object' || rule === null) return { prefix, ttlMs: toMs(rule, name) }
      return {
        prefix,
        ttlMs: toMs(rule.ttl, `${name}.ttl`),
        ...(rule.l1Ttl !== undefined && { l1TtlMs: l1TtlMs({ l1 }, rule.l1Ttl, `${name}.l1Ttl`) }),
      }
    })
    .sort((a, b) => b.prefix.length - a.prefix.length)
}

/** A loader timeout: false = none (Infinity); 0 = at once (a soft timeout of 0 is plain stale-while-revalidate). */
export function timeoutMs(input: Duration | false | undefined, fallback: number, name: string): number {
  if (input === false) return Number.POSITIVE_INFINITY
  return input === undefined ? fallback : toMs(input, name)
}

function resolveRetry(input: NonNullable<CacheOptions['l2']>['retry']): ResolvedOptions['l2']['retry'] {
  if (input === false) return false
  const factor = nonNegative(input?.factor ?? SEED_RETRY.factor, 'l2.retry.factor')
  if (factor < 1) throw new InvalidOptionError(`l2.retry.factor must be >= 1, got ${factor}`)
  return {
    attempts: positiveInt(input?.attempts ?? SEED_RETRY.attempts, 'l2.retry.attempts'),
    delayMs: toMs(input?.delay ?? SEED_RETRY.delay, 'l2.retry.delay'),
    factor,
  }
}

function resolveCompression(input: Partial<CompressionOptions>): CompressionOptions {
  const algorithm = input.algorithm ?? 'gzip'
  if (algorithm !== 'gzip' && algorithm !== 'brotli') {
    throw new InvalidOptionError(
      `compression.algorithm must be 'gzip' or 'brotli', got ${JSON.stringify(algorithm)}`,
    )
  }
  const level = input.level ?? (algorithm === 'gzip' ? 6 : 4)
  const maxLevel = algorithm === 'gzip' ? 9 : 11
  if (!Number.isInteger(level) || level < 0 || level > maxLevel) {
    throw new InvalidOptionError(
      `compression.level for ${algorithm} must be an integer 0..${maxLevel}, got ${level}`,
    )
  }
  return { threshold: nonNegative(input.threshold ?? 1024, 'compression.threshold'), algorithm, level }
}

function oneOf<T extends string>(value: T, allowed: readonly T[], name: string): T {
  if (!allowed.includes(value)) {
    throw new InvalidOptionError(
      `${name} must be one of ${allowed.map((item) => `'${item}'`).join(', ')}, got ${JSON.stringify(value)}`,
    )
  }
  return value
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new InvalidOptionError(`${name} must be greater than 0, got ${value}`)
  return value
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidOptionError(`${name} must be a positive integer, got ${value}`)
  }
  return value
}

function nonNegative(value: number, name: string): number {
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new InvalidOptionError(`${name} must be a number >= 0, got ${value}`)
  }
  return value
}
