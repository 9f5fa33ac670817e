import { adviceOf } from './advisor.js'
import type { CacheHealth } from './cache-api.js'
import type { Engine } from './engine.js'
import { errorMessage } from './errors.js'

/** Latency above this is degraded. */
export const LATENCY_DEGRADED_MS = 100
/** Memory use above this share of maxmemory is degraded. */
export const MEMORY_DEGRADED_PERCENT = 90

/**
 * A Cluster whose state is fail refuses every command with CLUSTERDOWN though its nodes answer PING:
 * unhealthy. Masters that do not answer (a failover under way) make it degraded. Undefined when the
 * cache is not on a Cluster or all is well.
 */
async function clusterTrouble(
  engine: Engine,
): Promise<{ status: 'degraded' | 'unhealthy'; reason: string } | undefined> {
  if (!engine.clusterState) return undefined
  const state = await engine.clusterState()
  if (state.failing > 0) {
    return {
      status: 'unhealthy',
      reason: `redis cluster_state:fail on ${state.failing} of ${state.masters} masters: commands refused (CLUSTERDOWN)`,
    }
  }
  if (state.silent > 0)
    return {
      status: 'degraded',
      reason: `redis cluster: ${state.silent} of ${state.masters} masters do not answer`,
    }
  return undefined
}

/** Folds the cluster's own verdict into a health built from PING and INFO. */
function withCluster<H extends Omit<CacheHealth, 'advice'>>(
  health: H,
  trouble: Awaited<ReturnType<typeof clusterTrouble>>,
): H {
  if (!trouble) return health
  const status = health.status === 'unhealthy' || trouble.status === 'unhealthy' ? 'unhealthy' : 'degraded'
  return { ...health, status, reasons: [trouble.reason, ...health.reasons] }
}

/**
 * PING latency and INFO memory against the thresholds above: healthy, degraded (slow or nearly
 * full), unhealthy (no answer or circuit open). An L1-only cache is healthy without Redis.
 */
export async function checkHealth(engine: Engine): Promise<CacheHealth> {
  const health = { ...(await checkRedis(engine)), advice: adviceOf(engine) }
  return engine.l2 ? { ...health, invalidation: describeInvalidation(engine) } : health
}

/** The L1 invalidation sources in use; tracking counts as one while on or reconnecting. */
function describeInvalidation(engine: Engine): NonNullable<CacheHealth['invalidation']> {
  const tracking = engine.tracking
  const state = tracking?.state
  const sources: Array<'tracking' | 'bus'> = []
  if (state === 'on' || state === 'connecting') sources.push('tracking')
  if (engine.bus) sources.push('bus')
  if (!tracking || state === 'closed') return { sources }
  return { sources, tracking: state, ...(tracking.refusal ? { refusal: tracking.refusal } : {}) }
}

async function checkRedis(engine: Engine): Promise<Omit<CacheHealth, 'advice'>> {
  const l2 = engine.l2
  if (!l2) return { status: 'healthy', redis: { configured: false, connected: false }, reasons: [] }
  const circuit = engine.circuitState()
  const lastSeen = engine.redisState.lastSeen ? new Date(engine.redisState.lastSeen).toISOString() : undefined
  try {
    // INFO is in @dangerous: a least-privilege ACL user may not run it. Then memory is unknown, not bad.
    const [latencyMs, info, cluster] = await Promise.all([
      l2.ping(),
      l2.info().catch(() => undefined),
      clusterTrouble(engine),
    ])
    engine.redisState.lastSeen = Date.now()
    if (!info) {
      const reasons =
        latencyMs > LATENCY_DEGRADED_MS ? [`redis latency ${latencyMs} ms > ${LATENCY_DEGRADED_MS} ms`] : []
      if (circuit !== 'closed') reasons.push(`circuit ${circuit}`)
      return withCluster(
        {
          status: reasons.length > 0 ? 'degraded' : 'healthy',
          latencyMs,
          redis: { configured: true, connected: true, latencyMs, circuit },
          reasons: [...reasons, 'INFO not available (ACL?): memory not checked'],
        },
        cluster,
      )
    }
    const usedMemory = Number(info.used_memory ?? 0)
    const maxMemory = Number(info.maxmemory ?? 0)
    // maxmemory 0 means unbounded: there is no percentage to compare.
    const usagePercent = maxMemory > 0 ? Math.round((usedMemory / maxMemory) * 1000) / 10 : undefined
    const reasons: string[] = []
    if (latencyMs > LATENCY_DEGRADED_MS)
      reasons.push(`redis latency ${latencyMs} ms > ${LATENCY_DEGRADED_MS} ms`)
    if (usagePercent !== undefined && usagePercent > MEMORY_DEGRADED_PERCENT) {
      reasons.push(`redis memory ${usagePercent}% of maxmemory > ${MEMORY_DEGRADED_PERCENT}%`)
    }
    if (circuit !== 'closed') reasons.push(`circuit ${circuit}`)
    const evictionPolicy = info.maxmemory_policy
    return withCluster(
      {
        status: reasons.length > 0 ? 'degraded' : 'healthy',
        latencyMs,
        memory: { used: usedMemory, max: maxMemory, usagePercent },
        redis: {
          configured: true,
          connected: true,
          latencyMs,
          usedMemory,
          maxMemory,
          usagePercent,
          evictionPolicy,
          circuit,
        },
        reasons,
      },
      cluster,
    )
  } catch (error) {
    // On a Cluster the node that missed the PING may be the failing shard's: say what the masters say too.
    const cluster = await clusterTrouble(engine).catch(() => undefined)
    return withCluster(
      {
        status: 'unhealthy' as const,
        redis: {
          configured: true as const,
          connected: false,
          circuit,
          error: describe(error),
          lastSeen,
        },
        reasons: ['redis does not answer'],
      },
      cluster,
    )
  }
}

/** An error message safe to show: no hostnames or credentials (docs/reliability.md S12). */
function describe(error: unknown): string {
  const message = errorMessage(error)
  if (/timed? ?out|timeout/i.test(message)) return 'timeout'
  if (/circuit/i.test(message)) return 'circuit open'
  if (/ECONNREFUSED|connect|closed|Connection/i.test(message)) return 'connection refused or closed'
  return 'redis error'
}
