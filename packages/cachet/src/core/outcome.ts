import type { CacheResult, RetryResult, StaleReason, Tier } from './cache-api.js'
import type { Engine } from './engine.js'

/*
 * The one place where what a read gave its caller is counted, and the repeats of L2 calls: stats()
 * and the events (and so the Prometheus counters, fed by the events) come from these functions only.
 */

/**
 * Counts a hit (global, namespace, tier) and emits it with the read's duration when `startedAt`
 * (a performance.now()) is given; only L2 hits feed the cacheMs average, unless `average` is false
 * (a value that came after waiting on another process's load).
 */
export function recordHit(engine: Engine, key: string, tier: Tier, startedAt?: number, average = true): void {
  const stats = engine.stats
  stats.total.hits++
  const scope = stats.scope(key)
  scope.hits++
  const listening = engine.emitter.has('hit')
  // Read the clock only when the duration is used: the L2 average, or a 'hit' listener.
  const timed = startedAt !== undefined && ((tier === 'l2' && average) || listening)
  const durationMs = timed ? performance.now() - startedAt : undefined
  if (tier === 'l1') stats.l1Hits++
  else {
    stats.l2Hits++
    if (durationMs !== undefined && average) {
      stats.total.cacheHits++
      stats.total.cacheMsTotal += durationMs
      scope.cacheHits++
      scope.cacheMsTotal += durationMs
    }
  }
  if (listening) engine.emitter.emit('hit', { key, tier, durationMs })
}

/** Counts a miss (global, namespace) and emits it with the time the lookup took before missing. */
export function recordMiss(engine: Engine, key: string, durationMs?: number): void {
  engine.stats.total.misses++
  engine.stats.scope(key).misses++
  if (engine.emitter.has('miss')) engine.emitter.emit('miss', { key, durationMs })
}

/** Counts a stale value served (global, namespace) and emits why. */
export function recordStale(engine: Engine, key: string, reason: StaleReason): void {
  engine.stats.total.staleHits++
  engine.stats.scope(key).staleHits++
  if (engine.emitter.has('stale')) engine.emitter.emit('stale', { key, reason })
}

/** Counts a caller that got what another caller's call produced, as that call's outcome. */
export function recordShared(engine: Engine, key: string, result: CacheResult<unknown>): void {
  if (result.outcome === 'hit') recordHit(engine, key, result.source === 'l1' ? 'l1' : 'l2')
  else if (result.outcome === 'stale') recordStale(engine, key, result.staleReason ?? 'swr')
  else recordMiss(engine, key)
}

/** Counts one loader call (global, namespace) and emits it. */
export function recordLoad(engine: Engine, key: string, ms: number, ok: boolean): void {
  const scope = engine.stats.scope(key)
  engine.stats.total.loads++
  engine.stats.total.loaderMsTotal += ms
  scope.loads++
  scope.loaderMsTotal += ms
  if (engine.emitter.has('load')) engine.emitter.emit('load', { key, durationMs: ms, ok })
}

/** Counts one repeat of an L2 call (sent, and how it went) or one that did not fit, and emits it. */
export function recordRetry(
  engine: Engine,
  operation: string,
  attempt: number,
  result: RetryResult,
  key?: string,
): void {
  const retries = engine.stats.l2Retries
  if (result === 'no-budget') retries.outOfBudget++
  else {
    retries.sent++
    if (result === 'ok') retries.recovered++
  }
  if (engine.emitter.has('retry')) engine.emitter.emit('retry', { operation, key, attempt, result })
}

/**
 * Counts a call that found a cached value its schema refuses (global, namespace) and emits it:
 * `migrated` when migrate turned it into an accepted one, else the call went on as a miss.
 */
export function recordInvalid(engine: Engine, key: string, migrated: boolean): void {
  engine.stats.total.invalid++
  engine.stats.scope(key).invalid++
  if (engine.emitter.has('invalid')) engine.emitter.emit('invalid', { key, migrated })
}
