import { CliError, EXIT } from '../client.js'
import { confirm } from '../confirm.js'
import type { CommandContext } from '../context.js'
import { printJson } from '../output.js'

/** Options of `cachet clear`. */
export interface ClearOptions {
  dryRun?: boolean
  /** Skip the confirmation prompt (required when stdin is not a terminal). */
  yes?: boolean
}

/**
 * `cachet clear [pattern]`: previews with a dry run, asks for confirmation, then deletes.
 * Without a pattern it clears the whole cache prefix (never FLUSHDB; the server enforces that).
 */
export async function clearCommand(ctx: CommandContext, pattern: string | undefined, options: ClearOptions) {
  const target = pattern ?? '*'
  const preview = await ctx.client.request('POST', '/clear', { pattern, dryRun: true })
  const count: number = preview.body.stats?.keysMatched ?? 0
  const sample: string[] = preview.body.details?.sample ?? []
  if (options.dryRun) {
    if (ctx.json) return printJson(ctx.output, preview.body)
    ctx.output.out(`${count} key(s) match ${target} (dry run, nothing deleted)`)
    for (const key of sample) ctx.output.out(`  ${key}`)
    return
  }
  if (!options.yes) {
    if (!process.stdin.isTTY) {
      throw new CliError(
        `refusing to clear ${count} key(s) without --yes (stdin is not a terminal)`,
        EXIT.usage,
      )
    }
    if (!(await confirm(`Delete ${count} key(s) matching ${target}?`))) {
      ctx.output.err('aborted')
      return
    }
  }
  const { body } = await ctx.client.request('POST', '/clear', { pattern, confirm: true })
  if (ctx.json) return printJson(ctx.output, body)
  const s = body.stats ?? body.data ?? {}
  ctx.output.out(`deleted ${s.keysDeleted ?? 0} key(s) matching ${target} in ${s.duration ?? '?'}`)
}
