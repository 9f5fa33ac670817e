import type { FastifyInstance, FastifyRequest } from 'fastify'
import { type AdminContext, audited, type Mutation } from '../context.js'
import { reachesEveryNamespace } from '../patterns.js'
import { badRequest, formatDuration, ok } from '../responses.js'
import { parse } from '../schemas.js'

const KEY_BATCH = 100
const SAMPLE = 20

/** What DELETE /invalidate is asked to do, once validated. */
interface InvalidateInput {
  keys?: string[]
  patterns?: string[]
  tags?: string[]
  tagMode?: 'delete' | 'expire'
  confirm?: boolean
  dryRun?: boolean
}

/** A count per item (key, pattern or tag), in the order asked. */
type Counts = Array<[string, number]>

async function perKey(keys: readonly string[], run: (key: string) => Promise<boolean>) {
  const counts: Counts = []
  for (let i = 0; i < keys.length; i += KEY_BATCH) {
    const batch = keys.slice(i, i + KEY_BATCH)
    const results = await Promise.all(batch.map(run))
    batch.forEach((key, j) => {
      counts.push([key, results[j] ? 1 : 0])
    })
  }
  return counts
}

/**
 * Invalidates keys, patterns and tags, and reports a count per item: `details.keys` is the list of keys
 * asked for (seed 004's array), `details.keyCounts` whether each existed. A dry run counts what would
 * go: live entries per key, pattern and tag.
 */
async function invalidate(ctx: AdminContext, input: InvalidateInput): Promise<Mutation> {
  const keys = [...new Set(input.keys ?? [])]
  const patterns = [...new Set(input.patterns ?? [])]
  const tags = [...new Set(input.tags ?? [])]
  patterns.forEach((pattern, i) => {
    if (reachesEveryNamespace(pattern) && input.confirm !== true && !input.dryRun) {
      throw badRequest(
        `body.patterns.${i}`,
        `${JSON.stringify(pattern)} starts with a wildcard, so it can match every key: needs confirm: true`,
      )
    }
  })
  const started = performance.now()
  /** What both answers report alike: the total, what was processed, and a count per item. */
  const report = (keyCounts: Counts, patternCounts: Counts, tagCounts: Counts) => ({
    total: [...keyCounts, ...patternCounts, ...tagCounts].reduce((sum, [, count]) => sum + count, 0),
    processed: {
      keysProcessed: keys.length,
      patternsProcessed: patterns.length,
      tagsProcessed: tags.length,
      duration: formatDuration(performance.now() - started),
    },
    details: {
      keys,
      keyCounts: Object.fromEntries(keyCounts),
      patterns: Object.fromEntries(patternCounts),
      tags: Object.fromEntries(tagCounts),
    },
  })

  if (input.dryRun) {
    const keyCounts = await perKey(keys, (key) => ctx.cache.has(key))
    const patternCounts: Counts = []
    const samples: Record<string, string[]> = {}
    for (const pattern of patterns) {
      const { count, sample } = await ctx.cache.countByPattern(pattern, SAMPLE)
      patternCounts.push([pattern, count])
      samples[pattern] = sample
    }
    const tagCounts: Counts = []
    for (const tag of tags) tagCounts.push([tag, await ctx.cache.tagCount(tag)])
    const { total, processed, details } = report(keyCounts, patternCounts, tagCounts)
    return {
      dryRun: true,
      keysAffected: 0,
      body: ok({
        message: 'Dry run: nothing invalidated',
        stats: { keysMatched: total, ...processed },
        details: { ...details, samples },
      }),
    }
  }

  await ctx.audit.ensureWritable()
  const keyCounts = await perKey(keys, (key) => ctx.cache.delete(key))
  const patternCounts: Counts = []
  for (const pattern of patterns) patternCounts.push([pattern, await ctx.cache.deleteByPattern(pattern)])
  const tagCounts: Counts = []
  for (const tag of tags) {
    tagCounts.push([tag, await ctx.cache.invalidateTags([tag], { mode: input.tagMode })])
  }
  const { total, processed, details } = report(keyCounts, patternCounts, tagCounts)
  return {
    keysAffected: total,
    body: ok({ message: 'Cache invalidated', stats: { keysInvalidated: total, ...processed }, details }),
  }
}

/**
 * DELETE /invalidate (POST accepted for clients that cannot send a DELETE body) and the aliases of the
 * Flask `@cache_response` cache cachet replaces: POST /invalidate/:type (every key of a cache type) and
 * POST /invalidate-pattern.
 */
export function registerInvalidateRoutes(app: FastifyInstance, ctx: AdminContext): void {
  const handler = async (request: FastifyRequest) => {
    const result = await audited(ctx, request, 'invalidate', async () =>
      invalidate(ctx, parse(ctx.schemas.invalidate, request.body, 'body')),
    )
    return result.body
  }
  app.delete('/invalidate', { config: { access: 'admin' } }, handler)
  app.post('/invalidate', { config: { access: 'admin' } }, handler)

  app.post('/invalidate/:type', { config: { access: 'admin' } }, async (request) => {
    const result = await audited(ctx, request, 'invalidate-type', async () => {
      const { type } = parse(ctx.schemas.typeParams, request.params, 'params')
      const body = parse(ctx.schemas.invalidateType, request.body, 'body')
      return invalidate(ctx, { patterns: [`${type}:*`], dryRun: body.dryRun })
    })
    return result.body
  })

  app.post('/invalidate-pattern', { config: { access: 'admin' } }, async (request) => {
    const result = await audited(ctx, request, 'invalidate-pattern', async () => {
      const body = parse(ctx.schemas.invalidatePattern, request.body, 'body')
      if (reachesEveryNamespace(body.pattern) && body.confirm !== true && !body.dryRun) {
        throw badRequest(
          'body.confirm',
          `must be true: pattern ${JSON.stringify(body.pattern)} starts with a wildcard, so it can match every key`,
        )
      }
      return invalidate(ctx, { patterns: [body.pattern], confirm: true, dryRun: body.dryRun })
    })
    return result.body
  })
}
