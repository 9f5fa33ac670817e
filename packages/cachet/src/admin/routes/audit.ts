import type { FastifyInstance } from 'fastify'
import type { AdminContext } from '../context.js'
import { ok } from '../responses.js'
import { parse } from '../schemas.js'

/** GET /audit: the audit trail, newest first, paginated by record id. */
export function registerAuditRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.get('/audit', { config: { access: 'read' } }, async (request) => {
    const query = parse(ctx.schemas.auditQuery, request.query, 'query')
    const limit = query.limit ?? 50
    const { records, nextCursor } = await ctx.audit.list({ ...query, limit })
    return ok({
      data: {
        sink: ctx.audit.sink,
        records,
        pagination: { returned: records.length, limit, nextCursor, hasMore: nextCursor !== null },
      },
    })
  })
}
