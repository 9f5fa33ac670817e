import type { QueryCache, SqlTransaction } from 'cachet/sql'

/** An order as POST /api/orders returns it. */
export interface Order {
  id: number
  customerId: number
  status: string
  createdAt: string
  items: Array<{ productId: number; quantity: number; unitPrice: number }>
  total: number
}

/** What POST /api/orders asks for. */
export interface OrderRequest {
  customerId: number
  items: Array<{ productId: number; quantity: number }>
}

/** A customer or product the request names does not exist; `field` is the body field that names it. */
export class UnknownReferenceError extends Error {
  override name = 'UnknownReferenceError'
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`)
  }
}

/**
 * Writes a completed order and its items in one transaction through the SQL cache, so every cached
 * query reading `orders` or `order_items` (the revenue query) is invalidated after COMMIT, and nothing
 * is invalidated when it rolls back. Unit prices are the products' current prices.
 */
export function placeOrder(queries: QueryCache, request: OrderRequest): Promise<Order> {
  return queries.transaction(async (tx) => {
    await checkReferences(tx, request)
    const [order] = await tx.query<{ id: number; status: string; created_at: string }>(
      `INSERT INTO orders (id, customer_id, status, created_at)
       VALUES (nextval('orders_id_seq'), $1, 'completed', now())
       RETURNING id, status, created_at::text AS created_at`,
      [request.customerId],
    )
    const items = await tx.query<{ product_id: number; quantity: number; unit_price: number }>(
      `INSERT INTO order_items (id, order_id, product_id, quantity, unit_price)
       SELECT nextval('order_items_id_seq'), $1, x.product_id, x.quantity, p.price
       FROM unnest($2::int[], $3::int[]) WITH ORDINALITY AS x(product_id, quantity, n)
       JOIN products p ON p.id = x.product_id
       ORDER BY x.n
       RETURNING product_id, quantity, unit_price::float8 AS unit_price`,
      [order!.id, request.items.map((i) => i.productId), request.items.map((i) => i.quantity)],
    )
    const lines = items.map((row) => ({
      productId: row.product_id,
      quantity: row.quantity,
      unitPrice: row.unit_price,
    }))
    const cents = lines.reduce((sum, line) => sum + Math.round(line.unitPrice * 100) * line.quantity, 0)
    return {
      id: order!.id,
      customerId: request.customerId,
      status: order!.status,
      createdAt: order!.created_at,
      items: lines,
      total: cents / 100,
    }
  })
}

/** Throws UnknownReferenceError for a missing customer or product (the transaction then rolls back). */
async function checkReferences(tx: SqlTransaction, request: OrderRequest): Promise<void> {
  const [customer] = await tx.query('SELECT 1 FROM customers WHERE id = $1', [request.customerId])
  if (!customer) {
    throw new UnknownReferenceError('customerId', `customer ${request.customerId} does not exist`)
  }
  const ids = [...new Set(request.items.map((item) => item.productId))]
  const found = await tx.query<{ id: number }>('SELECT id FROM products WHERE id = ANY($1::int[])', [ids])
  const known = new Set(found.map((row) => row.id))
  const index = request.items.findIndex((item) => !known.has(item.productId))
  if (index >= 0) {
    const id = request.items[index]!.productId
    throw new UnknownReferenceError(`items.${index}.productId`, `product ${id} does not exist`)
  }
}
