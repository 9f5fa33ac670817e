import { CliError, EXIT } from '../client.js'
import type { CommandContext } from '../context.js'
import { printJson } from '../output.js'

/** Options of `cachet invalidate`; each flag may repeat. */
export interface InvalidateOptions {
  tag?: string[]
  key?: string[]
  pattern?: string[]
  dryRun?: boolean
  /** Keep the tags' entries as stale fail-safe copies instead of removing them. */
  expire?: boolean
}

/** `cachet invalidate --tag t --key k --pattern p [--expire]`: the admin API's DELETE /invalidate. */
export async function invalidateCommand(ctx: CommandContext, options: InvalidateOptions): Promise<void> {
  const body = {
    keys: options.key?.length ? options.key : undefined,
    patterns: options.pattern?.length ? options.pattern : undefined,
    tags: options.tag?.length ? options.tag : undefined,
    tagMode: options.expire ? 'expire' : undefined,
    dryRun: options.dryRun || undefined,
  }
  if (!body.keys && !body.patterns && !body.tags) {
    throw new CliError('give at least one of --tag, --key, --pattern', EXIT.usage)
  }
  const { body: answer } = await ctx.client.request('DELETE', '/invalidate', body)
  if (ctx.json) return printJson(ctx.output, answer)
  const s = answer.stats ?? {}
  const d = answer.details ?? {}
  ctx.output.out(
    `${options.dryRun ? 'would invalidate' : 'invalidated'} ${s.keysInvalidated ?? s.keysMatched ?? 0} key(s) in ${s.duration ?? '?'}`,
  )
  for (const [kind, counts] of Object.entries(d)) {
    if (counts && typeof counts === 'object' && !Array.isArray(counts)) {
      // details.keys is the list of keys asked for; keyCounts says which existed.
      const label = kind === 'keyCounts' ? 'keys' : kind
      for (const [name, n] of Object.entries(counts)) ctx.output.out(`  ${label} ${name}: ${n}`)
    }
  }
}
