import type { CommandContext } from '../context.js'
import { printJson } from '../output.js'
import { ProgressBar } from '../progress-bar.js'

/** Options of `cachet warmup`. */
export interface WarmupOptions {
  force?: boolean
}

/**
 * `cachet warmup [modules...]`: starts a run (all registered modules when none are given), follows its
 * progress over server-sent events with a progress bar, and prints a summary.
 * Exits non-zero when a module failed.
 */
export async function warmupCommand(ctx: CommandContext, modules: string[], options: WarmupOptions) {
  const started = await ctx.client.request('POST', '/warmup', {
    modules: modules.length ? modules : undefined,
    force: options.force || undefined,
    wait: false,
  })
  const jobId: string = started.body.data.jobId
  const bar = ctx.json ? undefined : new ProgressBar(ctx.output)
  let total = 0
  let finished = 0
  let final: any
  for await (const { event, data } of ctx.client.events(`/warmup/${jobId}/events`)) {
    if (event === 'state') {
      // Modules that finished before the stream opened are already in the first state.
      total = data.modules.length
      finished = data.results.length
      bar?.update(finished, total)
    } else if (event === 'done') {
      final = data
      bar?.update(total, total, 'done')
    } else if (event === 'progress') bar?.update(finished, total, `${data.module}: ${data.keys} key(s)`)
    else if (event === 'module') {
      finished++
      bar?.update(finished, total, `${data.module} ${data.ok ? 'done' : `FAILED: ${data.error}`}`)
    }
  }
  bar?.done()
  // The stream can end without 'done' (server shutting down): read the job's last state instead.
  final ??= (await ctx.client.request('GET', `/warmup/${jobId}`)).body.data
  if (ctx.json) printJson(ctx.output, final)
  else {
    const seconds = (final.durationMs / 1000).toFixed(1)
    ctx.output.out(
      `warm-up ${final.status}: ${final.modulesWarmed.join(', ') || 'no module'} warmed, ` +
        `${final.keysCreated} key(s) created, ${final.errors} error(s), ${seconds} s`,
    )
    for (const result of final.results ?? []) {
      if (!result.ok) ctx.output.err(`  ${result.module}: ${result.error}`)
    }
  }
  return final.errors > 0 || final.status !== 'completed' ? 1 : 0
}
