import type { FastifyInstance } from 'fastify'
import type { AdminContext } from '../context.js'
import { HttpError, ok } from '../responses.js'
import { parse } from '../schemas.js'

/**
 * GET /history: sampled figures over the last 15 minutes, oldest first: this instance's by default,
 * another live instance's with `?instance=<id>`, or every live instance's with `?instance=all`
 * (`series`, this one first; instances share their history through the admin's Redis client).
 */
export function registerHistoryRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get('/history', { config: { access: 'read' } }, async (request) => {
    const { instance } = parse(ctx.schemas.historyQuery, request.query, 'query')
    const { history } = ctx
    const shape = {
      instance: history.instance,
      shared: history.shared,
      intervalMs: history.intervalMs,
      windowMs: history.windowMs,
    }
    if (instance === 'all') {
      const series = await history.allSeries()
      return ok({ data: { ...shape, points: series[0]!.points, series } })
    }
    if (instance === undefined || instance === history.instance) {
      return ok({ data: { ...shape, points: history.points() } })
    }
    const points = await history.seriesOf(instance)
    if (!points) {
      throw new HttpError(
        404,
        'E_NOT_FOUND',
        `query.instance: no live instance ${instance} shares its history`,
      )
    }
    return ok({ data: { ...shape, points, of: instance } })
  })
}
