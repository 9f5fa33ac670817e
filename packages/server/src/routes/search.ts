import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import type { Database } from '../database.js'
import { searchLogs } from '../kpi-queries.js'
import { badRequest } from '../validation.js'

const querySchema = z.strictObject({
  q: z.string().trim().min(1, 'q must not be empty').max(100, 'q must be at most 100 characters'),
})

/** GET /api/search?q=: a substring search over log messages, cached as type 'search' (1 h), keyed on q only. */
export const searchRoute: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  app.get(
    '/api/search',
    { config: { cache: { type: 'search', query: ['q'], tags: ['logs'], exposeKey: true } } },
    async (request, reply) => {
      const parsed = querySchema.safeParse(request.query)
      // The schema's messages name their field already.
      if (!parsed.success) return badRequest(reply, parsed.error.issues[0]?.message ?? 'invalid input')
      const hits = await searchLogs(db, parsed.data.q)
      return { q: parsed.data.q, count: hits.length, hits }
    },
  )
}
