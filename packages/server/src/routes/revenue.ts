import type { QueryCache } from 'cachet/sql'
import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { trackLoads } from '../load-tracker.js'
import { REVENUE_PERIODS, revenueByDay, revenueKey } from '../revenue-query.js'
import { badRequest } from '../validation.js'

const periods = Object.keys(REVENUE_PERIODS) as Array<keyof typeof REVENUE_PERIODS>

const querySchema = z.strictObject({
  period: z.enum(periods, { error: `must be one of ${periods.join(', ')}` }).default('30d'),
})

/**
 * GET /api/dashboard/revenue?period=30d: seed 003's revenue query through the SQL query cache, tagged
 * `revenue` and `orders`. X-Cache (and seed 003's X-Cache-Status) is MISS when this request ran the SQL,
 * HIT otherwise; Cache-Control: max-age=300.
 */
export const revenueRoute: FastifyPluginAsync<{ queries: QueryCache }> = async (app, { queries }) => {
  app.get('/api/dashboard/revenue', async (request, reply) => {
    const parsed = querySchema.safeParse(request.query)
    if (!parsed.success) return badRequest(reply, parsed.error)
    const { period } = parsed.data
    const days = REVENUE_PERIODS[period]
    const { value: rows, loaded } = await trackLoads(() => revenueByDay(queries, days))
    const status = loaded > 0 ? 'MISS' : 'HIT'
    reply.header('x-cache', status)
    // Seed 003 §3.2: the same status under its own name, and browsers may keep the answer 5 minutes.
    reply.header('x-cache-status', status)
    reply.header('cache-control', 'max-age=300')
    reply.header('x-cache-key', `${queries.cache.prefix}:${await revenueKey(queries, days)}`)
    return { period, days, count: rows.length, rows }
  })
}
