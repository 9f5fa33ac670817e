import type { CacheApi } from 'cachet'
import { isSentinelUrl, parseSentinelUrl } from 'cachet/redis'
import { createWriteBehind, type FlushItem, type WriteBehind } from 'cachet/write-behind'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Database } from './database.js'

/** What the demo journals per product view: one more view, and when. */
export interface ProductViews {
  views: number
  lastSeen: string
}

/** Product view counters and "last seen" times, written behind to the demo database. */
export interface ProductViewCounter {
  writeBehind: WriteBehind<ProductViews>
  /** Journals one view of a product (acknowledged by the durable Redis) and counts it in the cache. */
  view(productId: number): Promise<string>
  /** The product's figures: from the cache (with the views not flushed yet) or the database. */
  read(productId: number): Promise<ProductViews>
  close(): Promise<void>
}

export const viewsKey = (productId: number) => `product-views:${productId}`

/**
 * Opens the demo's write-behind on the durable Redis at `journalUrl` (the typical write-behind load:
 * a counter bumped on every page view). Views of a batch add up (`merge`); the flush adds them to
 * `product_views` in one statement. A redelivered batch would add its views twice (docs/write-behind.md):
 * acceptable for a view counter. Resolves undefined, with a warning, when the journal Redis is not durable.
 */
export async function openProductViews(
  journalUrl: string,
  cache: CacheApi,
  db: Database,
  logger: Logger,
): Promise<ProductViewCounter | undefined> {
  await db.query(`CREATE TABLE IF NOT EXISTS product_views (
    product_id int PRIMARY KEY, views bigint NOT NULL, last_seen timestamptz NOT NULL)`)
  const settings = { maxRetriesPerRequest: 1, autoResendUnfulfilledCommands: false }
  const journal = isSentinelUrl(journalUrl)
    ? new Redis({ ...parseSentinelUrl(journalUrl), ...settings })
    : new Redis(journalUrl, settings)
  journal.on('error', (error) => logger.debug({ err: error }, 'write-behind journal connection error'))
  let writeBehind: WriteBehind<ProductViews>
  try {
    writeBehind = await createWriteBehind<ProductViews>({
      cache,
      journal,
      stream: 'demo:product-views',
      interval: '1s',
      merge: (older, newer) => ({
        views: older.views + newer.views,
        lastSeen: later(older.lastSeen, newer.lastSeen),
      }),
      flush: (batch) => addViews(db, batch),
    })
  } catch (error) {
    logger.warn({ err: error }, 'product view counters disabled: no durable journal')
    journal.disconnect()
    return undefined
  }
  const load = async (productId: number): Promise<ProductViews> => {
    const [row] = await db.query<{ views: string; last_seen: Date }>(
      'SELECT views, last_seen FROM product_views WHERE product_id = $1',
      [productId],
    )
    return row
      ? { views: Number(row.views), lastSeen: row.last_seen.toISOString() }
      : { views: 0, lastSeen: '' }
  }
  return {
    writeBehind,
    view: (productId) =>
      writeBehind.write(viewsKey(productId), { views: 1, lastSeen: new Date().toISOString() }),
    read: (productId) => cache.getOrSet(viewsKey(productId), () => load(productId), { ttl: '10m' }),
    async close() {
      await writeBehind.stop()
      journal.disconnect()
    },
  }
}

async function addViews(db: Database, batch: FlushItem<ProductViews>[]): Promise<void> {
  await db.query(
    `INSERT INTO product_views (product_id, views, last_seen)
       SELECT * FROM unnest($1::int[], $2::bigint[], $3::timestamptz[])
     ON CONFLICT (product_id) DO UPDATE SET views = product_views.views + excluded.views,
       last_seen = greatest(product_views.last_seen, excluded.last_seen)`,
    [
      batch.map((item) => Number(item.key.slice(item.key.indexOf(':') + 1))),
      batch.map((item) => item.value.views),
      batch.map((item) => item.value.lastSeen),
    ],
  )
}

/** The later of two ISO-8601 UTC times (they compare as strings). */
function later(a: string, b: string): string {
  return a.localeCompare(b) >= 0 ? a : b
}
