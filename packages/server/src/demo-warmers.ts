import type { CacheApi } from 'cachet'
import type { WarmupRegistry } from 'cachet/admin'
import type { FastifyInstance } from 'fastify'
import type { Database } from './database.js'
import type { UserSync } from './user-sync.js'

/** Searches the demo pre-computes (seed 004 §2.3 "popular data"). */
export const POPULAR_SEARCHES = ['error', 'upload', 'billing', 'auth', 'search']

/**
 * Registers the demo's warm-up modules of seeds 001 and 002 (seed 004's are in demo-catalog-warmers.ts).
 * 'dashboard', 'search' and 'user-profiles' run at start-up. 'dashboard' and 'search' warm the HTTP routes
 * through app.inject, so the entries are exactly the ones real requests hit (same key, same headers).
 * 'user-profiles' prewarms the
 * user entity cache (nothing to do in L1-only mode, where there is none).
 */
export function registerDemoWarmers(
  registry: WarmupRegistry,
  app: FastifyInstance,
  db: Database,
  userSync: UserSync | undefined,
): void {
  // Returns 1 when the request stored a new entry. A forced run deletes a cached entry (its key comes
  // back in X-Cache-Key) and asks again, so the entry is rebuilt rather than served.
  const warmRoute = async (cache: CacheApi, url: string, force: boolean) => {
    let response = await app.inject({ method: 'GET', url })
    const fullKey = response.headers['x-cache-key']
    if (force && response.headers['x-cache'] !== 'MISS' && typeof fullKey === 'string') {
      await cache.delete(fullKey.slice(cache.prefix.length + 1))
      response = await app.inject({ method: 'GET', url })
    }
    return response.statusCode === 200 && response.headers['x-cache'] === 'MISS' ? 1 : 0
  }

  // Seed 001's warm_cache(): the dashboard and the popular searches are requested at start-up.
  registry.register(
    'dashboard',
    async (ctx) => ({ keys: await warmRoute(ctx.cache, '/api/dashboard', ctx.force) }),
    { onStart: true },
  )

  registry.register(
    'search',
    async (ctx) => {
      let keys = 0
      for (const q of POPULAR_SEARCHES) {
        if (ctx.signal.aborted) break
        keys += await warmRoute(ctx.cache, `/api/search?q=${encodeURIComponent(q)}`, ctx.force)
      }
      return { keys }
    },
    { onStart: true },
  )

  registry.register('users', async (ctx) => {
    const [row] = await db.query<{ users: number; active: number }>(
      `SELECT count(DISTINCT user_id)::int AS users,
              count(DISTINCT user_id) FILTER (WHERE ts >= now() - interval '1 day')::int AS active
       FROM logs`,
    )
    const written = await ctx.set('users:stats', row ?? { users: 0, active: 0 }, {
      ttl: '30m',
      tags: ['users'],
    })
    return { keys: written ? 1 : 0 }
  })

  // Seed 002 scenario 4: at start-up, in the background, the profiles of users active in the last 7
  // days, in batches of 500, each batch logged; health says `warming` with the count meanwhile. The
  // cursor is kept in Redis, so a server stopped mid-way resumes at its next batch. Cached profiles
  // are kept current by the stream consumer, so even a forced run only loads the missing ones.
  registry.register(
    'user-profiles',
    async (ctx) => {
      if (!userSync) return { keys: 0 }
      let reported = 0
      const result = await userSync.prewarmer.run({
        signal: ctx.signal,
        onProgress: (progress) => {
          ctx.progress(progress.cached - reported)
          reported = progress.cached
          app.log.info(progress, 'user profiles prewarm: batch done')
        },
      })
      app.log.info(result, result.completed ? 'user profiles prewarmed' : 'user profiles prewarm interrupted')
      if (result.errors > 0 && result.cached === 0) {
        throw new Error(`no user profile could be warmed (${result.errors} errors)`)
      }
      return { keys: result.cached }
    },
    { onStart: true },
  )
}
