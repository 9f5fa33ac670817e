import type { QueryCache } from 'cachet/sql'

/** Periods GET /api/dashboard/revenue accepts; each is one cache entry. */
export const REVENUE_PERIODS = { '7d': 7, '30d': 30, '90d': 90 } as const

/** Tags of the cached revenue query besides its automatic table tags; POST /api/orders invalidates them. */
export const REVENUE_TAGS = ['revenue', 'orders'] as const

/** One row of seed 003's revenue dashboard: a day and a product category. */
export interface RevenueRow {
  day: string
  category: string
  unique_customers: number
  order_count: number
  revenue: number
  avg_order_value: number
  p95_order_value: number
}

// Seed 003 §1's query. The period is a parameter, so the text (and its cache key prefix) is the same
// for every period; casts make the values plain JSON numbers and strings on both drivers.
const REVENUE_SQL = `
SELECT
  to_char(DATE_TRUNC('day', o.created_at), 'YYYY-MM-DD') AS day,
  p.category,
  COUNT(DISTINCT o.customer_id)::int AS unique_customers,
  COUNT(o.id)::int AS order_count,
  ROUND(SUM(oi.quantity * oi.unit_price), 2)::float8 AS revenue,
  ROUND(AVG(oi.quantity * oi.unit_price), 2)::float8 AS avg_order_value,
  ROUND(PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY oi.quantity * oi.unit_price)::numeric, 2)::float8
    AS p95_order_value
FROM orders o
JOIN order_items oi ON o.id = oi.order_id
JOIN products p ON oi.product_id = p.id
JOIN customers c ON o.customer_id = c.id
WHERE o.created_at >= NOW() - :days * INTERVAL '1 day'
  AND o.status = 'completed'
  AND c.country IN ('US', 'CA', 'MX')
GROUP BY DATE_TRUNC('day', o.created_at), p.category
ORDER BY day DESC, revenue DESC`

/** Runs (or reads from the SQL cache) the revenue query over the last `days` days. */
export function revenueByDay(queries: QueryCache, days: number): Promise<RevenueRow[]> {
  // Seed 003: "near real-time (5 min) is fine"; new orders invalidate it at once anyway.
  return queries.query<RevenueRow>(REVENUE_SQL, { days }, { ttl: '5m', tags: REVENUE_TAGS })
}

/** The cache key of the revenue query for `days`, relative to the cache prefix. */
export function revenueKey(queries: QueryCache, days: number): Promise<string> {
  return queries.key(REVENUE_SQL, { days })
}
