import type { Counters, LockResult } from './cache-api.js'
import { namespaceOf } from './keys.js'

const MAX_NAMESPACES = 100

/** Mutable counters of one scope; derived figures (rates, averages) are computed on read. */
export class ScopeCounters {
  hits = 0
  misses = 0
  staleHits = 0
  errors = 0
  invalid = 0
  loads = 0
  loaderMsTotal = 0
  cacheHits = 0
  cacheMsTotal = 0

  snapshot(): Counters {
    const lookups = this.hits + this.staleHits + this.misses
    return {
      hits: this.hits,
      misses: this.misses,
      staleHits: this.staleHits,
      errors: this.errors,
      invalid: this.invalid,
      hitRate: lookups === 0 ? 0 : (this.hits + this.staleHits) / lookups,
      loads: this.loads,
      loaderMs: this.loads === 0 ? 0 : roundMs(this.loaderMsTotal / this.loads),
      cacheMs: this.cacheHits === 0 ? 0 : roundMs(this.cacheMsTotal / this.cacheHits),
    }
  }
}

/** Keys whose namespace counters are remembered (see Stats.scope). */
const KEY_MEMO_SIZE = 10_000

/** The engine's counters: global, per tier, and per namespace (first key segment, bounded). */
export class Stats {
  total = new ScopeCounters()
  l1Hits = 0
  l1Misses = 0
  l2Hits = 0
  l2Misses = 0
  l2Errors = 0
  /** L2 calls repeated (core/retry.ts): repeats sent, operations a repeat saved, repeats that did not fit. */
  l2Retries = { sent: 0, recovered: 0, outOfBudget: 0 }
  sets = 0
  deletes = 0
  invalidations = 0
  lockWaits = 0
  locks: Record<LockResult, number> = { acquired: 0, waited: 0, skipped: 0 }
  #namespaces = new Map<string, ScopeCounters>()
  /**
   * The counters of recently counted keys. Cutting the namespace out of a key allocates a string whose
   * hash is then computed: about a quarter of an L1 hit. The key itself was just hashed by the L1
   * lookup (V8 keeps a string's hash), so looking it up here is cheap. Emptied past KEY_MEMO_SIZE.
   */
  #byKey = new Map<string, ScopeCounters>()

  /** Counters of the namespace of a key relative to the prefix ('dashboard' for 'dashboard:abc'). */
  scope(key: string): ScopeCounters {
    const known = this.#byKey.get(key)
    if (known) return known
    const name = namespaceOf(key)
    let counters = this.#namespaces.get(name)
    if (!counters) {
      const bounded = this.#namespaces.size >= MAX_NAMESPACES ? 'other' : name
      counters = this.#namespaces.get(bounded) ?? new ScopeCounters()
      this.#namespaces.set(bounded, counters)
    }
    if (this.#byKey.size >= KEY_MEMO_SIZE) this.#byKey.clear()
    this.#byKey.set(key, counters)
    return counters
  }

  namespaces(): Record<string, Counters> {
    const out: Record<string, Counters> = {}
    for (const [name, counters] of this.#namespaces) out[name || '(root)'] = counters.snapshot()
    return out
  }

  reset(): void {
    this.total = new ScopeCounters()
    this.l1Hits = this.l1Misses = this.l2Hits = this.l2Misses = this.l2Errors = 0
    this.l2Retries = { sent: 0, recovered: 0, outOfBudget: 0 }
    this.sets = this.deletes = this.invalidations = this.lockWaits = 0
    this.locks = { acquired: 0, waited: 0, skipped: 0 }
    this.#namespaces.clear()
    this.#byKey.clear()
  }
}

/** Milliseconds to the microsecond, as every figure of the stats and history is given. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
