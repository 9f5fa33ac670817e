import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import type { CacheApi, CacheHealth } from '../core/cache-api.js'
import type { AuditLog, AuditOutcome } from './audit-log.js'
import type { Principal } from './auth.js'
import { toHttpError } from './error-handler.js'
import type { History } from './history.js'
import type { ResolvedLimits } from './options.js'
import { sanitizeParams } from './sanitize.js'
import type { Schemas } from './schemas.js'
import type { WarmupRegistry } from './warmup.js'

/** What every route module of the admin plugin shares. */
export interface AdminContext {
  cache: CacheApi
  schemas: Schemas
  limits: ResolvedLimits
  audit: AuditLog
  warmers: WarmupRegistry
  /** cache.health() within 2 s, reused for a second (GET /health is public). */
  health: () => Promise<CacheHealth>
  /** For INFO figures (version, uptime, DBSIZE, evictions); absent → health() figures only. */
  redis?: Redis | Cluster
  logger: FastifyBaseLogger
  /** The sampled figures GET /history serves. */
  history: History
  /** The authenticated caller of a request (set by the auth hook). */
  principals: WeakMap<FastifyRequest, Principal>
}

/** What an audited handler hands back to `audited`. */
export interface Mutation {
  body: Record<string, unknown>
  status?: number
  keysAffected: number
  dryRun?: boolean
}

/**
 * Runs a mutating handler (or a value read) and writes its one audit record before the response:
 * outcome ok / dry-run / error, keys affected, duration. Validation failures are recorded too.
 * A destructive handler calls `ctx.audit.ensureWritable()` before deleting anything, so it fails
 * closed (503) when the sink is down.
 */
export async function audited(
  ctx: AdminContext,
  request: FastifyRequest,
  action: string,
  run: () => Promise<Mutation>,
): Promise<Mutation> {
  const started = performance.now()
  const base = {
    at: Date.now(),
    who: ctx.principals.get(request)?.id ?? 'anonymous',
    ip: request.ip,
    action,
    params: sanitizeParams({ params: request.params, query: request.query, body: request.body }),
  }
  let mutation: Mutation
  try {
    mutation = await run()
  } catch (error) {
    const http = toHttpError(error)
    const record = {
      ...base,
      outcome: 'error' as const,
      status: http.statusCode,
      keysAffected: 0,
      reason: http.message,
    }
    // Best effort: when the sink itself is the failure, write() has already logged the record.
    await ctx.audit.write({ ...record, durationMs: performance.now() - started }).catch(() => {})
    throw error
  }
  const outcome: AuditOutcome = mutation.dryRun ? 'dry-run' : 'ok'
  await ctx.audit
    .write({
      ...base,
      outcome,
      status: mutation.status ?? 200,
      keysAffected: mutation.keysAffected,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    })
    // The operation has already run: answer its result; the record went to the pino log.
    .catch(() => {})
  return mutation
}
