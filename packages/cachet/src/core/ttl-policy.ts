import { toMs } from './duration.js'
import { type ResolvedOptions, SEED_ADAPTIVE_TTL } from './options.js'

/** Per-call inputs of the freshness computation, all in ms. */
export interface FreshCall {
  /** An explicit ttl given to this call: wins over everything. */
  ttlMs?: number
  /** How long the loader took; feeds the adaptive TTL. */
  loadMs?: number
  /** Turns the adaptive TTL on or off for this call (default: the cache's adaptiveTtl option). */
  adaptive?: boolean
}

type AdaptiveRules = ReadonlyArray<{ slowerThanMs: number; ttlMs: number }>

const SEED_RULES: AdaptiveRules = SEED_ADAPTIVE_TTL.map((rule) => ({
  slowerThanMs: toMs(rule.slowerThan),
  ttlMs: toMs(rule.ttl),
}))

/**
 * How long an entry stays fresh and how long it is kept stale. Freshness precedence: explicit call ttl >
 * adaptive TTL from the loader's duration > longest matching ttlRules prefix > the default ttl. Jitter
 * spreads freshness only, so entries written together do not all expire in the same second; grace is
 * never jittered.
 */
export class TtlPolicy {
  readonly #defaultMs: number
  readonly #graceMs: number
  readonly #jitter: number
  readonly #rules: ResolvedOptions['ttlRules']
  /** Only the rules that set an l1Ttl: most caches have none, so an L2 read scans nothing. */
  readonly #l1Rules: ResolvedOptions['ttlRules']
  readonly #adaptiveByDefault: boolean
  readonly #adaptiveRules: AdaptiveRules
  readonly #random: () => number

  /** `random` is injectable so tests can pin the jitter. */
  constructor(options: ResolvedOptions, random: () => number = Math.random) {
    this.#defaultMs = options.ttlMs
    this.#graceMs = options.graceMs
    this.#jitter = options.jitter
    this.#rules = [...options.ttlRules].sort((a, b) => b.prefix.length - a.prefix.length)
    this.#l1Rules = this.#rules.filter((rule) => rule.l1TtlMs !== undefined)
    this.#adaptiveByDefault = options.adaptiveTtl !== false
    this.#adaptiveRules = [...(options.adaptiveTtl || SEED_RULES)].sort(
      (a, b) => b.slowerThanMs - a.slowerThanMs,
    )
    this.#random = random
  }

  /** Freshness of a write to `key`, in whole ms ≥ 1, jitter applied. */
  freshMs(key: string, call?: FreshCall): number {
    let ttlMs = call?.ttlMs
    if (ttlMs === undefined && call?.loadMs !== undefined && (call.adaptive ?? this.#adaptiveByDefault)) {
      ttlMs = this.adaptiveMs(call.loadMs)
    }
    ttlMs ??= this.ruleFor(key) ?? this.#defaultMs
    const spread = this.#jitter === 0 ? 1 : 1 + this.#jitter * (2 * this.#random() - 1)
    return Math.max(1, Math.round(ttlMs * spread))
  }

  /** How long past freshness a stale value is kept (0 = grace off). Never jittered. */
  graceMs(call?: { graceMs?: number }): number {
    return call?.graceMs ?? this.#graceMs
  }

  /** The ttl of the longest ttlRules prefix `key` starts with, or undefined. */
  ruleFor(key: string): number | undefined {
    for (const rule of this.#rules) if (key.startsWith(rule.prefix)) return rule.ttlMs
    return undefined
  }

  /**
   * How long L1 may keep `key` at most: the call's l1Ttl, else the l1Ttl of the longest ttlRules prefix
   * that sets one; undefined = l1.maxTtl.
   */
  l1Ms(key: string, callMs?: number): number | undefined {
    if (callMs !== undefined) return callMs
    for (const rule of this.#l1Rules) if (key.startsWith(rule.prefix)) return rule.l1TtlMs
    return undefined
  }

  /**
   * The adaptive ttl for a loader that took `loadMs`: the first threshold it is slower than, where a
   * threshold of 0 catches everything (the default's "else 1 min"). Uses the cache's adaptiveTtl rules, or
   * SEED_ADAPTIVE_TTL when the cache has none. Undefined when no threshold applies.
   */
  adaptiveMs(loadMs: number): number | undefined {
    for (const rule of this.#adaptiveRules) {
      if (loadMs > rule.slowerThanMs || rule.slowerThanMs === 0) return rule.ttlMs
    }
    return undefined
  }
}
