import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { reuseFor } from '../core/reuse.js'
import { allows, requireDeclaredAccess } from './access.js'
import { createAuditLog } from './audit-log.js'
import { createAuthenticator, type Principal } from './auth.js'
import { addressKey, createFailureLimiter } from './brute-force.js'
import type { AdminContext } from './context.js'
import { createDenialRecorder } from './denials.js'
import { createErrorHandler } from './error-handler.js'
import { createHistory, historyShape, shareTtlMs } from './history.js'
import { createHistoryShare } from './history-share.js'
import { registerOpenApi } from './openapi/index.js'
import { type AdminOptions, resolveLimits } from './options.js'
import { badRequest, errorBody, HttpError } from './responses.js'
import { registerAuditRoutes } from './routes/audit.js'
import { registerClearRoutes } from './routes/clear.js'
import { boundedHealth, HEALTH_REUSE_MS, registerHealthRoutes } from './routes/health.js'
import { registerHistoryRoutes } from './routes/history.js'
import { registerInvalidateRoutes } from './routes/invalidate.js'
import { registerKeysRoutes } from './routes/keys.js'
import { registerStatsRoutes } from './routes/stats.js'
import { registerWarmupRoutes } from './routes/warmup.js'
import { namedWriteBehinds, registerWriteBehindRoutes } from './routes/write-behind.js'
import { escapeControl } from './sanitize.js'
import { createSchemas } from './schemas.js'
import { createWarmupRegistry } from './warmup.js'

export type { Access } from './access.js'
export type { AuditLog, AuditOutcome, AuditRecord } from './audit-log.js'
export { AuditUnavailableError, createAuditLog } from './audit-log.js'
export { createAuthenticator, type Principal, type Role } from './auth.js'
export { dashboardPlugin } from './dashboard/plugin.js'
export type { HistoryOptions, HistoryPoint } from './history.js'
export type { InstanceSeries } from './history-share.js'
export type { Percentiles } from './latency-sample.js'
export type { AdminJwtOptions, AdminLimits, AdminOptions, WriteBehindSource } from './options.js'
export type { WriteBehindReport } from './routes/write-behind.js'
export type {
  Warmer,
  WarmupContext,
  WarmupJob,
  WarmupJobState,
  WarmupModuleResult,
  WarmupRegistry,
} from './warmup.js'
export { createWarmupRegistry, UnknownWarmupModuleError, WarmupBusyError } from './warmup.js'

/**
 * The admin API (the original six endpoints, the Flask cache's aliases, key browser, audit trail) as an
 * encapsulated Fastify plugin: register it under a prefix, e.g.
 * `app.register(adminPlugin, { prefix: '/api/cache', cache, tokens: [process.env.CACHET_ADMIN_TOKEN] })`.
 */
export const adminPlugin: FastifyPluginAsync<AdminOptions> = async (app: FastifyInstance, options) => {
  const { cache } = options
  const limits = resolveLimits(options.limits)
  const logger = options.logger ?? app.log
  const auditRedis = options.audit?.redis ?? options.redis
  // Options are checked (and may throw) before the history sampler starts listening to the cache.
  const tokens = (options.tokens ?? []).filter((token) => typeof token === 'string' && token.length > 0)
  if (tokens.length === 0 && !options.jwt?.secret && !options.jwt?.publicKey) {
    logger.warn('cachet admin API has no tokens and no JWT key: every call but GET /health will be refused')
  }
  const readTokens = (options.readTokens ?? []).filter(
    (token) => typeof token === 'string' && token.length > 0,
  )
  const authenticate = createAuthenticator(tokens, options.jwt, readTokens)
  const writeBehinds = namedWriteBehinds(options.writeBehind)
  const health = reuseFor(HEALTH_REUSE_MS, () => boundedHealth(cache))
  const redis = options.redis ?? options.audit?.redis
  const shape = historyShape(options.history)
  // With a Redis client, every instance publishes its history there, so any one of them can show all.
  const historyShare = redis
    ? createHistoryShare(redis, cache.prefix, {
        capacity: shape.capacity,
        ttlMs: shareTtlMs(shape.intervalMs),
        timeoutMs: limits.redisTimeoutMs,
      })
    : undefined
  const ctx: AdminContext = {
    cache,
    schemas: createSchemas(cache.prefix, limits),
    limits,
    audit: createAuditLog({
      redis: auditRedis,
      streamKey: options.audit?.streamKey ?? `${cache.prefix}:__audit`,
      maxLen: options.audit?.maxLen ?? 10_000,
      deniedMaxLen: options.audit?.deniedMaxLen,
      logger,
      timeoutMs: limits.redisTimeoutMs,
    }),
    warmers: options.warmers ?? createWarmupRegistry(),
    health,
    history: createHistory(cache, health, options.history, historyShare),
    redis,
    logger,
    principals: new WeakMap<FastifyRequest, Principal>(),
  }
  const failures = createFailureLimiter(limits.authFailures, limits.authWindowMs)

  // Only JSON bodies, bounded: anything else is 415, anything larger is 413 (docs/reliability.md M7).
  app.removeAllContentTypeParsers()
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: limits.bodyBytes },
    (request, body, done) => {
      parseJson(request, body as string, (error, value) => {
        // Fastify reports prototype poisoning as "not valid JSON": say what was refused.
        if (error && /"(__proto__|constructor)"\s*:/.test(String(body))) {
          done(badRequest('body', '__proto__ and constructor.prototype properties are refused'), undefined)
        } else done(error, value)
      })
    },
  )
  app.setErrorHandler(createErrorHandler(logger))

  const denials = createDenialRecorder(ctx.audit, limits.authWindowMs)

  app.addHook('onRoute', requireDeclaredAccess)

  // Authentication runs first, on every route of the plugin and on its 404s, whatever the method.
  // The credential is checked before the limiter: a correct one always passes, even from an address
  // that others have pushed over the limit (a shared NAT, a spoofed X-Forwarded-For).
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config?.access
    if (access === 'public') return
    const result = await authenticate(request.headers.authorization)
    if (result.ok) {
      const { principal } = result
      ctx.principals.set(request, principal)
      // A 404 has no access of its own: any authenticated caller learns the route does not exist.
      if (request.is404 || allows(access, principal.role)) return
      // A valid credential guesses nothing, so the limiter does not count this; the denial is recorded.
      await denials.record({
        who: principal.id,
        ip: request.ip,
        address: addressKey(request.ip),
        status: 403,
        reason: `the admin role is required (${principal.id} has the ${principal.role} role)`,
        method: request.method,
        url: escapeControl(request.url.slice(0, 300)),
      })
      throw new HttpError(403, 'E_FORBIDDEN', 'authorization: this action needs the admin role')
    }
    const address = addressKey(request.ip)
    const waitMs = failures.blockedFor(address)
    // Only a presented credential counts: a missing header or a CORS preflight guesses nothing.
    if (waitMs === 0 && result.attempted) failures.fail(address)
    const status = waitMs > 0 ? 429 : result.status
    await denials.record({
      who: result.principal?.id ?? 'anonymous',
      ip: request.ip,
      address,
      status,
      reason: waitMs > 0 ? `too many failed credentials (${result.reason})` : result.reason,
      method: request.method,
      url: escapeControl(request.url.slice(0, 300)),
    })
    if (waitMs > 0) {
      throw new HttpError(429, 'E_TOO_MANY_ATTEMPTS', 'too many failed authentications; try again later', {
        'retry-after': String(Math.ceil(waitMs / 1000)),
      })
    }
    throw result.status === 401
      ? new HttpError(401, 'E_UNAUTHORIZED', 'authorization: a valid admin bearer token or JWT is required', {
          'www-authenticate': 'Bearer realm="cachet-admin"',
        })
      : new HttpError(403, 'E_FORBIDDEN', 'authorization: the admin or the read-only role is required')
  })

  // Every answer names the instance that gave it: behind a load balancer, figures differ per instance.
  app.addHook('onSend', async (_request, reply) => {
    reply
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('x-cachet-instance', ctx.history.instance)
  })

  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send(
        errorBody(
          'E_NOT_FOUND',
          `${request.method} ${escapeControl(request.url.slice(0, 200))}: no such admin route`,
        ),
      )
  })

  app.addHook('onClose', async () => {
    ctx.warmers.abortAll()
    await ctx.history.close()
    await denials.flush()
  })

  await registerOpenApi(app, ctx)
  registerHealthRoutes(app, ctx)
  registerStatsRoutes(app, ctx)
  registerHistoryRoutes(app, ctx)
  registerClearRoutes(app, ctx)
  registerInvalidateRoutes(app, ctx)
  registerKeysRoutes(app, ctx)
  registerWarmupRoutes(app, ctx)
  registerAuditRoutes(app, ctx)
  registerWriteBehindRoutes(app, writeBehinds)
}
