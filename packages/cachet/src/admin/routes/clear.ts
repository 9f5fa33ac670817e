import type { FastifyInstance } from 'fastify'
import { type AdminContext, audited, type Mutation } from '../context.js'
import { matchesEverything, reachesEveryNamespace } from '../patterns.js'
import { badRequest, formatDuration, ok } from '../responses.js'
import { parse } from '../schemas.js'

const SAMPLE = 20

/**
 * Deletes the keys matching `pattern` (everything when it is `*`), or with `dryRun` counts them and
 * shows a sample. A pattern starting with a wildcard (`*` included) needs `confirm: true`.
 */
async function clear(
  ctx: AdminContext,
  input: { pattern?: string; confirm?: boolean; dryRun?: boolean },
): Promise<Mutation> {
  const pattern = input.pattern ?? '*'
  const everything = matchesEverything(pattern)
  const started = performance.now()
  if (input.dryRun) {
    const { count, sample } = await ctx.cache.countByPattern(pattern, SAMPLE)
    return {
      dryRun: true,
      keysAffected: 0,
      body: ok({
        message: `Dry run: ${count} keys match ${everything ? 'the whole cache' : `pattern ${pattern}`}; nothing deleted`,
        stats: { keysMatched: count, duration: formatDuration(performance.now() - started) },
        details: { pattern, sample },
      }),
    }
  }
  if (reachesEveryNamespace(pattern) && input.confirm !== true) {
    throw badRequest(
      'body.confirm',
      everything
        ? 'must be true to clear the whole cache (or give a narrower pattern)'
        : `must be true: pattern ${JSON.stringify(pattern)} starts with a wildcard, so it can match every key`,
    )
  }
  await ctx.audit.ensureWritable()
  const keysDeleted = everything ? await ctx.cache.clear() : await ctx.cache.deleteByPattern(pattern)
  return {
    keysAffected: keysDeleted,
    body: ok({
      message: everything ? 'Full cache cleared' : `Cache cleared for pattern: ${pattern}`,
      stats: { keysDeleted, duration: formatDuration(performance.now() - started) },
    }),
  }
}

/** POST /clear and POST /clear-all (from the Flask cache it replaces), which also needs `confirm: true`. */
export function registerClearRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.post('/clear', { config: { access: 'admin' } }, async (request) => {
    const result = await audited(ctx, request, 'clear', async () =>
      clear(ctx, parse(ctx.schemas.clear, request.body, 'body')),
    )
    return result.body
  })

  app.post('/clear-all', { config: { access: 'admin' } }, async (request) => {
    const result = await audited(ctx, request, 'clear-all', async () =>
      clear(ctx, parse(ctx.schemas.clearAll, request.body, 'body')),
    )
    return result.body
  })
}
