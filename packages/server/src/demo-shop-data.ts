import type { Database } from './database.js'
import { keptTable, type SeedResult, seeded } from './demo-data.js'

/** Customers, products and orders the shop seed generates around `orderItems`. */
export const SHOP_CUSTOMERS = 5_000
export const SHOP_PRODUCTS = 2_000
const ITEMS_PER_ORDER = 4

/**
 * Creates and fills seed 003's `customers`, `products`, `orders` and `order_items`, each with one
 * generate_series INSERT. Orders are spread evenly over the last 60 days, so a 30-day revenue query
 * joins about half of the items: with 300,000 items it takes about 200 ms uncached on PGlite.
 * Tables that already hold rows (an external DATABASE_URL) are never touched.
 */
export async function seedShop(db: Database, orderItems: number): Promise<SeedResult> {
  const started = performance.now()
  // No foreign keys: checking them would triple the INSERT time, and the demo's writes go through
  // POST /api/orders, which checks customers and products itself.
  await db.query(`CREATE TABLE IF NOT EXISTS customers (
    id int PRIMARY KEY, name text NOT NULL, country text NOT NULL)`)
  await db.query(`CREATE TABLE IF NOT EXISTS products (
    id int PRIMARY KEY, name text NOT NULL, category text NOT NULL, price numeric(10,2) NOT NULL)`)
  await db.query(`CREATE TABLE IF NOT EXISTS orders (
    id int PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL)`)
  await db.query(`CREATE TABLE IF NOT EXISTS order_items (
    id int PRIMARY KEY, order_id int NOT NULL, product_id int NOT NULL,
    quantity int NOT NULL, unit_price numeric(10,2) NOT NULL)`)
  const kept = await keptTable(db, 'order_items', started)
  if (kept) {
    await syncIdSequences(db)
    return kept
  }
  const orders = Math.ceil(orderItems / ITEMS_PER_ORDER)
  // Deterministic values (no random()) so figures and tests are reproducible run after run.
  await db.query(
    `INSERT INTO customers (id, name, country)
     SELECT g, 'Customer ' || g, (ARRAY['US','CA','MX','FR','DE','US','US','CA','BR','JP'])[1 + g % 10]
     FROM generate_series(1, $1::int) AS g ON CONFLICT DO NOTHING`,
    [SHOP_CUSTOMERS],
  )
  await db.query(
    `INSERT INTO products (id, name, category, price)
     SELECT g, 'Product ' || g,
       (ARRAY['books','electronics','garden','grocery','health','sports','toys','fashion'])[1 + g % 8],
       5 + (g * 37) % 495 + (g % 100) / 100.0
     FROM generate_series(1, $1::int) AS g ON CONFLICT DO NOTHING`,
    [SHOP_PRODUCTS],
  )
  await db.query(
    `INSERT INTO orders (id, customer_id, status, created_at)
     SELECT g, 1 + (g * 7919) % $2::int,
       (ARRAY['completed','completed','completed','completed','pending','cancelled'])[1 + g % 6],
       now() - (g::float8 / $1) * interval '60 days'
     FROM generate_series(1, $1::int) AS g`,
    [orders, SHOP_CUSTOMERS],
  )
  await db.query(
    `INSERT INTO order_items (id, order_id, product_id, quantity, unit_price)
     SELECT g, 1 + (g - 1) / $2::int, p.id, 1 + g % 5, p.price
     FROM generate_series(1, $1::int) AS g JOIN products p ON p.id = 1 + (g * 1009) % $3::int`,
    [orderItems, ITEMS_PER_ORDER, SHOP_PRODUCTS],
  )
  await syncIdSequences(db)
  // Fresh statistics, so the planner picks hash joins for the revenue query from the first request.
  await db.query('ANALYZE customers, products, orders, order_items')
  return seeded(orderItems, started)
}

/**
 * Ids of orders written by POST /api/orders come from sequences. The generated rows carry explicit
 * ids, so each sequence is moved past the highest id in its table (never backwards).
 */
async function syncIdSequences(db: Database): Promise<void> {
  for (const table of ['orders', 'order_items']) {
    await db.query(`CREATE SEQUENCE IF NOT EXISTS ${table}_id_seq`)
    await db.query(
      `SELECT setval('${table}_id_seq', GREATEST(
         (SELECT coalesce(max(id), 0) FROM ${table}), (SELECT last_value FROM ${table}_id_seq), 1))`,
    )
  }
}
