import type { FastifyInstance } from 'fastify'
import type { CacheApi, CacheHealth } from '../../core/cache-api.js'
import { formatBytes } from '../../core/format-bytes.js'
import { race } from '../../core/timeouts.js'
import type { AdminContext } from '../context.js'
import type { WarmupRegistry } from '../warmup.js'

const HEALTH_DEADLINE_MS = 2000
/** How long GET /health and GET /stats reuse one health check: a flood costs one round of Redis commands a second. */
export const HEALTH_REUSE_MS = 1000

/** cache.health(), but never slower than 2 s: no answer in time is 'unhealthy'. */
export async function boundedHealth(cache: CacheApi): Promise<CacheHealth> {
  const outcome = await race(cache.health(), HEALTH_DEADLINE_MS)
  if (outcome.state === 'done') return outcome.value
  const error = outcome.state === 'timeout' ? 'health check timed out' : 'health check failed'
  return {
    status: 'unhealthy',
    redis: { configured: true, connected: false, error },
    reasons: [error],
    advice: [],
  }
}

/**
 * A public endpoint must not leak where Redis lives: driver messages such as
 * "connect ECONNREFUSED 10.0.0.5:6379" become a fixed category.
 */
function publicError(error: string | undefined): string | undefined {
  if (error === undefined) return undefined
  if (/timed? ?out|timeout/i.test(error)) return 'Connection timeout'
  if (/refused|ECONN|connect|closed|reset|ENOTFOUND|EHOSTUNREACH/i.test(error)) return 'Connection refused'
  if (/circuit/i.test(error)) return 'Circuit open'
  return 'Redis unavailable'
}

/** Strips anything that looks like an address, a URL or a credential from a health reason. */
export function publicReason(reason: string): string {
  // Cut before masking: the masks are quadratic on long input, and error text is not ours to bound.
  return reason
    .slice(0, 1000)
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '<address>')
    .replace(/\[[0-9a-f:]+\](:\d+)?/gi, '<address>')
    .replace(/\b[\w.-]+:\d{2,5}\b/g, '<address>')
    .slice(0, 200)
}

/** The start-up warm-up still running, if any: its module, keys so far, and when it began. */
function startupWarmup(warmers: WarmupRegistry) {
  const job = warmers.jobs().find((candidate) => {
    const state = candidate.state()
    return state.trigger === 'startup' && state.status === 'running'
  })
  if (!job) return undefined
  const state = job.state()
  return {
    jobId: state.id,
    modules: state.modules,
    modulesWarmed: state.modulesWarmed,
    current: state.current,
    keysCreated: state.keysCreated + (state.current?.keys ?? 0),
    startedAt: new Date(state.startedAt).toISOString(),
  }
}

/**
 * GET /health: public; 200 healthy, warming or degraded, 503 unhealthy; no key names, hosts or
 * credentials. `warming` (seed 000's "Cache States") is a healthy cache whose start-up warm-up is
 * still running: it serves, with a hit rate still building. Degraded and unhealthy take precedence.
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get('/health', { config: { access: 'public' } }, async (_request, reply) => {
    const health = await ctx.health()
    const redis = health.redis
    const warmup = startupWarmup(ctx.warmers)
    reply.code(health.status === 'unhealthy' ? 503 : 200)
    return {
      success: health.status !== 'unhealthy',
      instance: ctx.history.instance,
      status: health.status === 'healthy' && warmup ? 'warming' : health.status,
      ...(warmup && { warmup }),
      redis: {
        configured: redis.configured,
        connected: redis.connected,
        latency: redis.latencyMs === undefined ? undefined : `${Math.round(redis.latencyMs)}ms`,
        latencyMs: redis.latencyMs,
        memoryUsage: formatBytes(redis.usedMemory),
        maxMemory: formatBytes(redis.maxMemory),
        usagePercent: redis.usagePercent,
        evictionPolicy: redis.evictionPolicy,
        circuit: redis.circuit,
        error: publicError(redis.error),
        lastSeen: redis.lastSeen,
      },
      reasons: health.reasons.map(publicReason),
      // Codes and fixes name settings only, never a host, key or credential.
      advice: health.advice.map(({ code, message, fix }) => ({ code, message, fix })),
      timestamp: new Date().toISOString(),
    }
  })
}
