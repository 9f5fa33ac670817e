import type { FastifyInstance } from 'fastify'
import type { CacheHealth, CacheStats, Counters, RedisFigures } from '../../core/cache-api.js'
import { formatBytes } from '../../core/format-bytes.js'
import { reuseFor } from '../../core/reuse.js'
import type { AdminContext } from '../context.js'
import { formatUptime, ok } from '../responses.js'

/** Keys and memory of one namespace (first key segment), from a bounded SCAN. */
interface NamespaceUsage {
  keys: number
  bytes: number
}

const MAX_NAMESPACES = 100

/**
 * Walks the cache's keys (at most `limit`) and sums keys and MEMORY USAGE per namespace. Bounded so
 * that a dashboard polling every 5 s does not turn into a full keyspace walk; `complete` says
 * whether every key was seen.
 */
async function scanNamespaces(ctx: AdminContext, limit: number) {
  const usage = new Map<string, NamespaceUsage>()
  let cursor = '0'
  let scanned = 0
  do {
    const page = await ctx.cache.keys({ pattern: '*', cursor, limit: 100 })
    for (const key of page.keys) {
      if (key.key.startsWith('__')) continue
      const segment = key.key.split(':', 1)[0]!
      const name = usage.has(segment) || usage.size < MAX_NAMESPACES ? segment : 'other'
      const entry = usage.get(name) ?? { keys: 0, bytes: 0 }
      entry.keys++
      entry.bytes += key.bytes ?? 0
      usage.set(name, entry)
    }
    scanned += page.keys.length
    cursor = page.cursor
  } while (cursor !== '0' && scanned < limit)
  return { usage, scanned, complete: cursor === '0', at: Date.now() }
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`
}

/**
 * Seed 001's `cache_stats` block, as the Flask cache's GET /api/cache/stats answered it: lookups,
 * hit rate as a percentage with two decimals, and whether Redis answers.
 */
function seedCacheStats(stats: CacheStats, health: CacheHealth) {
  const totalRequests = stats.hits + stats.misses
  return {
    hits: stats.hits,
    misses: stats.misses,
    errors: stats.errors,
    total_requests: totalRequests,
    hit_rate: Math.round(stats.hitRate * 10_000) / 100,
    is_available: health.redis.connected,
  }
}

/**
 * GET /stats: seed 004's figures in `data` (engine counters, per-namespace counters, keys and memory),
 * seed 001's `status` and `cache_stats` beside them.
 */
export function registerStatsRoutes(app: FastifyInstance, ctx: AdminContext): void {
  // The walk is reused for statsSnapshotMs; a failed one (Redis down) is not, the next call tries again.
  const scan = reuseFor(ctx.limits.statsSnapshotMs, () => scanNamespaces(ctx, ctx.limits.statsScanKeys))
  const namespaces = () => scan().catch(() => undefined)

  app.get('/stats', { config: { access: 'read' } }, async () => {
    const stats = ctx.cache.stats()
    const [health, redis, scan] = await Promise.all([ctx.health(), ctx.cache.redisFigures(), namespaces()])
    const names = new Set([...Object.keys(stats.namespaces), ...(scan ? scan.usage.keys() : [])])
    const perNamespace: Record<
      string,
      Partial<Counters> & { keys?: number; bytes?: number; memory?: string }
    > = {}
    for (const name of [...names].sort()) {
      const usage = scan?.usage.get(name)
      perNamespace[name] = {
        ...stats.namespaces[name],
        keys: usage?.keys ?? 0,
        bytes: usage?.bytes ?? 0,
        memory: formatBytes(usage?.bytes ?? 0),
      }
    }
    const usedMemory = redis?.usedMemory ?? health.redis.usedMemory
    return ok({
      status: 'success',
      cache_stats: seedCacheStats(stats, health),
      data: {
        memory: redis?.usedMemoryHuman ?? formatBytes(usedMemory),
        keyCount: redis?.dbSize ?? scan?.scanned ?? 0,
        hitRate: percent(stats.hitRate),
        uptime: redis?.uptimeSeconds === undefined ? undefined : formatUptime(redis.uptimeSeconds),
        connected: health.redis.connected,
        version: redis?.version,
        status: health.status,
        cache: stats,
        redis: redisSection(health, redis, usedMemory),
        namespaces: perNamespace,
        namespaceScan: scan
          ? { keysScanned: scan.scanned, complete: scan.complete, at: new Date(scan.at).toISOString() }
          : null,
      },
    })
  })
}

function redisSection(health: CacheHealth, redis: RedisFigures | undefined, usedMemory: number | undefined) {
  const maxMemory = redis?.maxMemory ?? health.redis.maxMemory
  return {
    configured: health.redis.configured,
    connected: health.redis.connected,
    latencyMs: health.redis.latencyMs,
    usedMemory,
    maxMemory,
    usagePercent: health.redis.usagePercent,
    evictedKeys: redis?.evictedKeys,
    connectedClients: redis?.connectedClients,
    opsPerSec: redis?.opsPerSec,
    keyspaceHits: redis?.keyspaceHits,
    keyspaceMisses: redis?.keyspaceMisses,
    dbSize: redis?.dbSize,
    circuit: health.redis.circuit,
  }
}
