import type { WarmupContext, WarmupRegistry } from 'cachet/admin'
import type { Database } from './database.js'

/** How many popular products and vehicle brands the warmers preload (seed 004 §2.3). */
export const POPULAR_PRODUCTS = 100
export const TOP_BRANDS = 20

/**
 * Writes entries under seed 004's key names (§7) with no explicit ttl, so the cache's ttlRules (the
 * seed's TTL table, §4.3) decide: `products:popular:list` 15 min, `vehicles:brands:top20` and
 * `config:main:all` 1 h, the rest the 5 min default. Resolves how many were written.
 */
async function writeAll(ctx: WarmupContext, entries: Array<[string, unknown]>, tag: string) {
  let keys = 0
  for (const [key, value] of entries) {
    if (ctx.signal.aborted) break
    if (await ctx.set(key, value, { tags: [tag] })) keys++
  }
  return { keys }
}

/**
 * Registers seed 004's warm-up modules over the demo database, in its priority order (§6.3): critical
 * data (config, vehicle brands), then popular data (products), then SEO. Config, vehicles and
 * products also run at start-up, as the seed's automatic warm-up does.
 */
export function registerCatalogWarmers(registry: WarmupRegistry, db: Database): void {
  registry.register(
    'config',
    async (ctx) => {
      const rows = await db.query<{ key: string; value: unknown; environment: string }>(
        'SELECT key, value, environment FROM app_config WHERE active ORDER BY key',
      )
      const entries: Array<[string, unknown]> = [
        ['config:main:all', Object.fromEntries(rows.map((row) => [row.key, row.value]))],
        ...rows.map((row): [string, unknown] => [`config:${row.key}`, row.value]),
      ]
      for (const environment of new Set(rows.map((row) => row.environment))) {
        const values = rows.filter((row) => row.environment === environment)
        entries.push([
          `config:environment:${environment}`,
          Object.fromEntries(values.map((row) => [row.key, row.value])),
        ])
      }
      return writeAll(ctx, entries, 'config')
    },
    { onStart: true },
  )

  registry.register(
    'vehicles',
    async (ctx) => {
      const brands = await db.query<{ id: number; name: string; popularity: number }>(
        'SELECT id, name, popularity FROM vehicle_brands ORDER BY popularity DESC, id LIMIT $1',
        [TOP_BRANDS],
      )
      const models = await db.query<{ id: number; brand_id: number; name: string }>(
        `SELECT id, brand_id, name FROM vehicle_models WHERE brand_id = ANY($1::int[])
         ORDER BY brand_id, popularity DESC, id`,
        [brands.map((brand) => brand.id)],
      )
      const entries: Array<[string, unknown]> = [['vehicles:brands:top20', brands]]
      for (const brand of brands) {
        const own = models.filter((model) => model.brand_id === brand.id)
        entries.push([`vehicles:brand:${brand.id}:models`, own.map(({ id, name }) => ({ id, name }))])
      }
      return writeAll(ctx, entries, 'vehicles')
    },
    { onStart: true },
  )

  registry.register(
    'products',
    async (ctx) => {
      const popular = await db.query<{
        id: number
        name: string
        category: string
        price: string
        sold: number
      }>(
        `SELECT p.id, p.name, p.category, p.price::text AS price, s.sold::int AS sold
         FROM (SELECT product_id, sum(quantity) AS sold FROM order_items GROUP BY product_id
               ORDER BY sold DESC, product_id LIMIT $1) AS s
         JOIN products p ON p.id = s.product_id
         ORDER BY s.sold DESC, p.id`,
        [POPULAR_PRODUCTS],
      )
      const entries: Array<[string, unknown]> = [
        ['products:popular:list', popular.map(({ id, name, sold }) => ({ id, name, sold }))],
        ...popular.map((product): [string, unknown] => [`products:${product.id}:details`, product]),
      ]
      return writeAll(ctx, entries, 'products')
    },
    { onStart: true },
  )

  registry.register('seo', async (ctx) => {
    const pages = await db.query<{ slug: string; title: string; description: string }>(
      'SELECT slug, title, description FROM seo_pages ORDER BY slug',
    )
    const home = pages.find((page) => page.slug === 'home')
    const entries: Array<[string, unknown]> = [
      ['seo:homepage:metatags', home ?? null],
      ...pages.map((page): [string, unknown] => [`seo:page:${page.slug}:metatags`, page]),
      ['seo:sitemap:cache', pages.map((page) => `/${page.slug === 'home' ? '' : page.slug}`)],
      ['seo:stats', { pages: pages.length }],
    ]
    return writeAll(ctx, entries, 'seo')
  })
}
