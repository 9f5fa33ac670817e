import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Database } from '../database.js'
import type { DemoAuth } from '../demo-auth.js'
import { dashboardKpis } from '../kpi-queries.js'

/** The verified user of a request, memoised so the JWT is checked once per request. */
const verified = new WeakMap<FastifyRequest, Promise<number | undefined>>()

/** The user id of a request's valid demo JWT, or undefined; also what the response cache keys on. */
export function requestUser(auth: DemoAuth, request: FastifyRequest): Promise<number | undefined> {
  let user = verified.get(request)
  if (!user) {
    user = auth.verify(request.headers.authorization)
    verified.set(request, user)
  }
  return user
}

/**
 * GET /api/me/dashboard: the KPIs of the caller's own logs. The user comes from the verified JWT; the
 * cache is user-scoped, so each user's entry is separate, and a request without a valid token gets 401
 * before any cached entry could be served.
 */
export const meDashboardRoute: FastifyPluginAsync<{ db: Database; auth: DemoAuth }> = async (
  app,
  { db, auth },
) => {
  app.get(
    '/api/me/dashboard',
    {
      config: { cache: { type: 'user', scope: 'user' } },
      onRequest: async (request, reply) => {
        if ((await requestUser(auth, request)) === undefined) {
          return reply.code(401).header('www-authenticate', 'Bearer').send({
            error: 'E_UNAUTHORIZED',
            message: 'a valid demo token is required (POST /api/demo/token)',
          })
        }
      },
    },
    async (request) => {
      const userId = (await requestUser(auth, request))!
      return { userId, ...(await dashboardKpis(db, userId)) }
    },
  )
}
