import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { z } from 'zod'
import { SHOP_PRODUCTS } from '../demo-shop-data.js'
import type { ProductViewCounter } from '../product-views.js'
import { badRequest } from '../validation.js'

const paramsSchema = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,9}$/, 'must be a positive integer')
    .transform(Number)
    .refine((id) => id <= SHOP_PRODUCTS, `must be a product id (1 to ${SHOP_PRODUCTS})`),
})

const unavailable = (reply: FastifyReply) =>
  reply.code(503).send({
    error: 'E_UNAVAILABLE',
    message: 'product view counters need a durable Redis for their journal (see the server banner)',
  })

/**
 * Product view counters written behind (docs/write-behind.md): POST journals one view on the durable
 * Redis and answers once it is acknowledged; the views reach `product_views` in batches. GET reads
 * them through the cache, so a view counts at once.
 */
export const productViewsRoute: FastifyPluginAsync<{ counter?: ProductViewCounter }> = async (
  app,
  { counter },
) => {
  app.post('/api/products/:id/view', async (request, reply) => {
    const parsed = paramsSchema.safeParse(request.params)
    if (!parsed.success) return badRequest(reply, parsed.error)
    if (!counter) return unavailable(reply)
    try {
      const entry = await counter.view(parsed.data.id)
      return reply.code(202).send({ journaled: entry })
    } catch (error) {
      request.log.warn({ err: error }, 'product view not journaled')
      return reply
        .code(503)
        .send({ error: 'E_UNAVAILABLE', message: 'the view could not be journaled; retry' })
    }
  })

  app.get('/api/products/:id/views', async (request, reply) => {
    const parsed = paramsSchema.safeParse(request.params)
    if (!parsed.success) return badRequest(reply, parsed.error)
    if (!counter) return unavailable(reply)
    return { productId: parsed.data.id, ...(await counter.read(parsed.data.id)) }
  })

  app.get('/api/products/views/health', async (_request, reply) => {
    if (!counter) return unavailable(reply)
    return counter.writeBehind.health()
  })
}
