import type { CacheApi } from '../core/cache-api.js'
import type { WarmupJobState } from './warmup.js'

/**
 * Seed 004's key of the warm-up status (§4.2 `cache:warmup:status`), a key of the cache: in Redis it
 * is `<prefix>:cache:warmup:status`. Every instance writes its runs there, so any instance's
 * GET /warmup shows the last run, wherever it ran.
 */
export const WARMUP_STATUS_KEY = 'cache:warmup:status'
const KEPT_FOR = '7d'

/** Writes a run's state; resolves false when Redis did not take it (the run goes on regardless). */
export function publishWarmupStatus(cache: CacheApi, state: WarmupJobState): Promise<boolean> {
  return cache.set(WARMUP_STATUS_KEY, state, { ttl: KEPT_FOR }).catch(() => false)
}

/**
 * The last run any instance published, read from Redis (not from this instance's L1, which another
 * instance's write may not have reached); null when none or when Redis does not answer.
 */
export async function readWarmupStatus(cache: CacheApi): Promise<WarmupJobState | null> {
  const details = await cache.inspect(WARMUP_STATUS_KEY).catch(() => undefined)
  if (!details || (details.state !== 'fresh' && details.state !== 'stale')) return null
  return (details.value as WarmupJobState | undefined) ?? null
}
