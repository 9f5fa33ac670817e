import type { QueryCache } from 'cachet/sql'
import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { placeOrder, UnknownReferenceError } from '../orders.js'
import { REVENUE_TAGS } from '../revenue-query.js'
import { badRequest, MAX_INT } from '../validation.js'
import type { WriteAccess } from '../write-access.js'

// Messages leave out the field: badRequest() prefixes the path (`items.0.productId: must be …`).
const id = z
  .number({ error: 'must be a number' })
  .int('must be an integer')
  .min(1, 'must be positive')
  .max(MAX_INT, 'is too large')

const bodySchema = z.strictObject(
  {
    customerId: id,
    items: z
      .array(
        z.strictObject({
          productId: id,
          quantity: z
            .number({ error: 'must be a number' })
            .int('must be an integer')
            .min(1, 'must be at least 1')
            .max(1_000, 'must be at most 1000'),
        }),
        { error: 'must be an array of { productId, quantity }' },
      )
      .min(1, 'must hold at least one item')
      .max(50, 'must hold at most 50 items'),
  },
  // Only for a body that is not an object: unknown keys keep zod's message, which names them.
  {
    error: (issue) =>
      issue.code === 'invalid_type' ? 'the body must be a JSON object { customerId, items }' : undefined,
  },
)

/**
 * POST /api/orders, by the customer (a demo JWT whose user id is the customer id) or the admin:
 * writes an order in a transaction through the SQL cache (which invalidates the
 * tables written after COMMIT), then invalidates the `revenue` and `orders` tags. 201 with the order.
 */
export const ordersRoute: FastifyPluginAsync<{ queries: QueryCache; access: WriteAccess }> = async (
  app,
  { queries, access },
) => {
  app.post('/api/orders', { onRequest: access.authenticate }, async (request, reply) => {
    const parsed = bodySchema.safeParse(request.body)
    if (!parsed.success) return badRequest(reply, parsed.error)
    if (!(await access.mayChange(request, reply, parsed.data.customerId))) return reply
    let order: Awaited<ReturnType<typeof placeOrder>>
    try {
      order = await placeOrder(queries, parsed.data)
    } catch (error) {
      if (error instanceof UnknownReferenceError) return badRequest(reply, error.message)
      throw error
    }
    // The table tags already cover the revenue query; the explicit tags also reach entries that
    // read orders through a view or function, which table detection cannot see.
    await queries.invalidateTags(REVENUE_TAGS)
    return reply.code(201).send(order)
  })
}
