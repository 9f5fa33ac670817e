import type { FastifyPluginAsync } from 'fastify'
import type { Database } from '../database.js'
import { dashboardKpis } from '../kpi-queries.js'

/** GET /api/dashboard: seed 001's 7 KPI queries, cached as type 'dashboard' (300 s). */
export const dashboardRoute: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/api/dashboard',
    { config: { cache: { type: 'dashboard', tags: ['logs'], exposeKey: true } } },
    async () => dashboardKpis(db),
  )
}
