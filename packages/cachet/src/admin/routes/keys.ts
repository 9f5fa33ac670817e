import type { FastifyInstance } from 'fastify'
import { formatBytes } from '../../core/format-bytes.js'
import { type AdminContext, audited } from '../context.js'
import { remainingLifetime } from '../lifetime.js'
import { HttpError, ok } from '../responses.js'
import { parse } from '../schemas.js'

const VALUE_PREVIEW_BYTES = 64 * 1024
const TOTAL_PATTERNS = 50

function notFound(key: string): HttpError {
  return new HttpError(404, 'E_NOT_FOUND', `params.key: no such key in the cache (${JSON.stringify(key)})`)
}

/** The value as JSON when it is small enough to show, else a truncated preview. */
function presentValue(value: unknown): { value?: unknown; preview?: string; truncated: boolean } {
  let json: string | undefined
  try {
    json = JSON.stringify(value, (_key, item) => (typeof item === 'bigint' ? `${item}n` : item))
  } catch {
    return { preview: String(value).slice(0, VALUE_PREVIEW_BYTES), truncated: true }
  }
  if (json === undefined || json.length <= VALUE_PREVIEW_BYTES) return { value, truncated: false }
  return { preview: json.slice(0, VALUE_PREVIEW_BYTES), truncated: true }
}

/**
 * Seed 004's `pagination.total`: how many keys match a pattern, from a full SCAN. The first page
 * counts afresh; the pages after it reuse that count for statsSnapshotMs, so paging through a large
 * keyspace costs one walk, not one per page. At most TOTAL_PATTERNS patterns are remembered.
 */
function matchCounter(ctx: AdminContext): (pattern: string, firstPage: boolean) => Promise<number> {
  const counts = new Map<string, { count: Promise<number>; at: number }>()
  return (pattern, firstPage) => {
    const known = counts.get(pattern)
    if (known && !firstPage && Date.now() - known.at < ctx.limits.statsSnapshotMs) return known.count
    const entry = {
      count: ctx.cache.countByPattern(pattern, 0).then((result) => result.count),
      at: Date.now(),
    }
    counts.delete(pattern)
    if (counts.size >= TOTAL_PATTERNS) counts.delete(counts.keys().next().value!)
    counts.set(pattern, entry)
    // A failed count (Redis down) is not kept: the next page tries again.
    entry.count.catch(() => {
      if (counts.get(pattern) === entry) counts.delete(pattern)
    })
    return entry.count
  }
}

/** GET /keys, GET/PATCH/DELETE /keys/:key (inspect, new ttl, delete). */
export function registerKeysRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const countMatches = matchCounter(ctx)

  app.get('/keys', { config: { access: 'read' } }, async (request) => {
    const query = parse(ctx.schemas.keysQuery, request.query, 'query')
    const limit = query.limit ?? 100
    const pattern = query.pattern ?? '*'
    const cursor = query.cursor ?? '0'
    const [page, total] = await Promise.all([
      ctx.cache.keys({ pattern, cursor, limit }),
      countMatches(pattern, cursor === '0'),
    ])
    const keys = page.keys.map((info) => ({
      key: info.key,
      type: info.type,
      ttl: info.ttlMs === undefined ? -1 : Math.ceil(info.ttlMs / 1000),
      ttlMs: info.ttlMs,
      size: formatBytes(info.bytes),
      bytes: info.bytes,
      freshUntil: info.freshUntil,
      staleUntil: info.staleUntil,
      ...remainingLifetime(info),
    }))
    const hasMore = page.cursor !== '0'
    return ok({
      data: {
        keys,
        pagination: {
          total,
          returned: keys.length,
          limit,
          nextCursor: hasMore ? page.cursor : null,
          hasMore,
        },
      },
    })
  })

  // A value read is audited like a change: values may hold personal data. Read-only callers get the
  // metadata only (action `metadata`), never the value.
  app.get('/keys/:key', { config: { access: 'read' } }, async (request) => {
    const showValue = ctx.principals.get(request)?.role === 'admin'
    const result = await audited(ctx, request, showValue ? 'read' : 'metadata', async () => {
      const { key } = parse(ctx.schemas.keyParams, request.params, 'params')
      const details = await ctx.cache.inspect(key)
      if (!details) throw notFound(key)
      const { value, ...envelope } = details
      return {
        keysAffected: 0,
        body: ok({
          data: {
            ...envelope,
            ttl: details.ttlMs === undefined ? -1 : Math.ceil(details.ttlMs / 1000),
            size: formatBytes(details.bytes ?? details.storedBytes),
            ...remainingLifetime(details),
            ...(showValue ? presentValue(value) : { valueHidden: true }),
          },
        }),
      }
    })
    return result.body
  })

  app.patch('/keys/:key', { config: { access: 'admin' } }, async (request) => {
    const result = await audited(ctx, request, 'expire', async () => {
      const { key } = parse(ctx.schemas.keyParams, request.params, 'params')
      const { ttl } = parse(ctx.schemas.patchKey, request.body, 'body')
      await ctx.audit.ensureWritable()
      if (!(await ctx.cache.expire(key, ttl))) throw notFound(key)
      return { keysAffected: 1, body: ok({ message: `TTL of ${key} set`, data: { key, ttlMs: ttl } }) }
    })
    return result.body
  })

  app.delete('/keys/:key', { config: { access: 'admin' } }, async (request) => {
    const result = await audited(ctx, request, 'delete', async () => {
      const { key } = parse(ctx.schemas.keyParams, request.params, 'params')
      await ctx.audit.ensureWritable()
      if (!(await ctx.cache.delete(key))) throw notFound(key)
      return { keysAffected: 1, body: ok({ message: `Key ${key} deleted`, data: { key, deleted: true } }) }
    })
    return result.body
  })
}
