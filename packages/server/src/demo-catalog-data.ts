import type { Database } from './database.js'
import { keptTable, type SeedResult, seeded } from './demo-data.js'

/** Vehicle brands and models the catalog seed generates (seed 004 §7.3). */
export const VEHICLE_BRANDS = 40
export const VEHICLE_MODELS = 400

/** The demo's active configuration (seed 004 §7.4), as the `config` warmer reads it. */
const CONFIG_ROWS: Array<{ key: string; value: unknown; environment: string; active: boolean }> = [
  {
    key: 'features',
    value: { search: true, userDashboards: true, uploads: true },
    environment: 'all',
    active: true,
  },
  { key: 'retention', value: { logsDays: 30, auditEntries: 10_000 }, environment: 'all', active: true },
  {
    key: 'cache-types',
    value: { dashboard: 300, search: 3600, user: 1800 },
    environment: 'all',
    active: true,
  },
  {
    key: 'payments',
    value: { provider: 'sandbox', currency: 'EUR' },
    environment: 'development',
    active: true,
  },
  { key: 'legacy-banner', value: { text: 'Old banner' }, environment: 'all', active: false },
]

/** The SEO pages (seed 004 §7.5): the homepage and the main pages. */
const SEO_PAGES = [
  { slug: 'home', title: 'Auto parts shop', description: 'Brake pads, filters and more for every car' },
  { slug: 'brakes', title: 'Brake pads and discs', description: 'Brake parts for 400 models' },
  { slug: 'filters', title: 'Oil and air filters', description: 'Filters for every engine' },
  { slug: 'vehicles', title: 'Find parts by vehicle', description: 'Choose your brand and model' },
  { slug: 'contact', title: 'Contact us', description: 'Opening hours and support' },
]

/**
 * Creates and fills the tables of seed 004's other modules: `vehicle_brands` and `vehicle_models`
 * (popularity drives the top 20), `app_config` and `seo_pages`. Products are seed 003's `products`,
 * ranked by what `order_items` sold. Tables that already hold rows are never touched.
 */
export async function seedCatalog(db: Database): Promise<SeedResult> {
  const started = performance.now()
  await db.query(`CREATE TABLE IF NOT EXISTS vehicle_brands (
    id int PRIMARY KEY, name text NOT NULL, popularity int NOT NULL)`)
  await db.query(`CREATE TABLE IF NOT EXISTS vehicle_models (
    id int PRIMARY KEY, brand_id int NOT NULL, name text NOT NULL, popularity int NOT NULL)`)
  await db.query(`CREATE TABLE IF NOT EXISTS app_config (
    key text PRIMARY KEY, value jsonb NOT NULL, environment text NOT NULL, active boolean NOT NULL)`)
  await db.query(`CREATE TABLE IF NOT EXISTS seo_pages (
    slug text PRIMARY KEY, title text NOT NULL, description text NOT NULL)`)
  const kept = await keptTable(db, 'vehicle_models', started)
  if (kept) return kept
  // Deterministic values (no random()) so figures and tests are reproducible run after run.
  await db.query(
    `INSERT INTO vehicle_brands (id, name, popularity)
     SELECT g, 'Brand ' || g, (g * 7919) % 1000 FROM generate_series(1, $1::int) AS g
     ON CONFLICT DO NOTHING`,
    [VEHICLE_BRANDS],
  )
  await db.query(
    `INSERT INTO vehicle_models (id, brand_id, name, popularity)
     SELECT g, 1 + g % $2::int, 'Model ' || g, (g * 104729) % 1000 FROM generate_series(1, $1::int) AS g`,
    [VEHICLE_MODELS, VEHICLE_BRANDS],
  )
  for (const row of CONFIG_ROWS) {
    await db.query(
      'INSERT INTO app_config (key, value, environment, active) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [row.key, JSON.stringify(row.value), row.environment, row.active],
    )
  }
  for (const page of SEO_PAGES) {
    await db.query(
      'INSERT INTO seo_pages (slug, title, description) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [page.slug, page.title, page.description],
    )
  }
  return seeded(VEHICLE_MODELS, started)
}
