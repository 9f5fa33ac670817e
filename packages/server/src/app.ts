import { adminPlugin, dashboardPlugin } from 'cachet/admin'
import { fastifyCache } from 'cachet/fastify'
import { createMetrics, metricsPlugin, registerWriteBehindMetrics } from 'cachet/prometheus'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { type Logger, pino } from 'pino'
import type { ServerConfig } from './config.js'
import { registerCatalogWarmers } from './demo-catalog-warmers.js'
import { registerDemoWarmers } from './demo-warmers.js'
import { drainOnClose } from './drain.js'
import type { ServerResources } from './resources.js'
import { dashboardRoute } from './routes/dashboard.js'
import { demoTokenRoute } from './routes/demo-token.js'
import { meDashboardRoute, requestUser } from './routes/me-dashboard.js'
import { ordersRoute } from './routes/orders.js'
import { productViewsRoute } from './routes/product-views.js'
import { revenueRoute } from './routes/revenue.js'
import { searchRoute } from './routes/search.js'
import { usersRoute } from './routes/users.js'
import { reportingSharedRedis } from './shared-redis-health.js'
import { skippingAtStartup } from './startup-warmers.js'
import { addServerTiming } from './timing.js'
import { writeAccess } from './write-access.js'

/** Options of build() beyond the environment. */
export interface BuildOptions {
  logger?: Logger
}

/**
 * Builds the server's Fastify app on opened resources, without listening (tests use inject):
 * the demo routes (seeds 001–003), the admin API at /api/cache, the dashboard at /cache and /metrics.
 */
export async function build(
  config: ServerConfig,
  resources: ServerResources,
  options: BuildOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: (options.logger ?? pino({ level: config.logLevel })) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Slow or idle clients cannot hold connections forever (RELIABILITY M7, Slowloris).
    requestTimeout: 30_000,
    connectionTimeout: 10_000,
    // Keep-alive sockets with no request in flight are closed at shutdown instead of holding it open.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  })
  const { cache, db, auth } = resources
  addServerTiming(app)
  drainOnClose(app)

  await app.register(fastifyCache, {
    cache,
    // The response cache keys user-scoped routes on the VERIFIED JWT subject, never on a raw header.
    getUser: (request) => requestUser(auth, request),
  })
  await app.register(dashboardRoute, { db })
  await app.register(searchRoute, { db })
  await app.register(demoTokenRoute, { auth })
  await app.register(meDashboardRoute, { db, auth })
  await app.register(revenueRoute, { queries: resources.queries })
  const access = writeAccess(auth, resources.adminToken)
  await app.register(ordersRoute, { queries: resources.queries, access })
  await app.register(usersRoute, { db, sync: resources.userSync, access })
  await app.register(productViewsRoute, { counter: resources.productViews })

  const warmers = skippingAtStartup(resources.warmers, config.startupWarmupSkip)
  registerCatalogWarmers(warmers, db)
  registerDemoWarmers(warmers, app, db, resources.userSync)
  await app.register(adminPlugin, {
    prefix: '/api/cache',
    cache: resources.durableRedis.kind === 'shared' ? reportingSharedRedis(cache) : cache,
    tokens: [resources.adminToken],
    readTokens: config.readToken ? [config.readToken] : [],
    redis: resources.adminRedis,
    audit: { redis: resources.auditRedis },
    warmers: resources.warmers,
    // The product-view counters' journal and flushes, on the dashboard's write-behind card.
    ...(resources.productViews
      ? { writeBehind: { 'product views': resources.productViews.writeBehind } }
      : {}),
  })
  await app.register(dashboardPlugin, { prefix: '/cache', apiPrefix: '/api/cache' })

  // Not public: its counters name namespaces and show traffic. Scrapers get their own token.
  const metrics = createMetrics(cache)
  if (resources.productViews) registerWriteBehindMetrics(metrics.registry, resources.productViews.writeBehind)
  await app.register(metricsPlugin, { metrics, token: config.metricsToken ?? resources.adminToken })
  app.addHook('onClose', async () => metrics.close())

  app.get('/', async (_request, reply) => reply.redirect('/cache'))
  return app
}
