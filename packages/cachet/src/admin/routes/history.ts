import type { FastifyInstance } from 'fastify'
import type { AdminContext } from '../context.js'
import { ok } from '../responses.js'

/** GET /history: this instance's sampled figures over the last 15 minutes, oldest first. */
export function registerHistoryRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get('/history', { config: { access: 'read' } }, async () => {
    const { history } = ctx
    return ok({
      data: {
        instance: history.instance,
        intervalMs: history.intervalMs,
        windowMs: history.windowMs,
        points: history.points(),
      },
    })
  })
}
