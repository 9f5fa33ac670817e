import { EXIT } from '../client.js'
import type { CommandContext } from '../context.js'
import { pairs, printJson } from '../output.js'

/** `cachet health`: exit 0 when healthy, warming or degraded, 1 when unhealthy (usable as a probe). */
export async function healthCommand(ctx: CommandContext): Promise<number> {
  // 503 is the answer "unhealthy", not a failure of the command.
  const { body } = await ctx.client.request('GET', '/health', undefined, (s) => s < 400 || s === 503)
  const status: string = body.status ?? body.data?.status ?? 'unknown'
  if (ctx.json) printJson(ctx.output, body)
  else {
    const r = body.redis ?? body.data?.redis ?? {}
    const reasons: string[] = body.reasons ?? body.data?.reasons ?? []
    ctx.output.out(
      pairs([
        ['status', status],
        ['redis', r.configured === false ? 'not configured (L1 only)' : r.connected ? 'connected' : 'down'],
        ['latency', r.latency ?? (r.latencyMs === undefined ? undefined : `${r.latencyMs} ms`)],
        ['memory', r.memoryUsage],
        ['max memory', r.maxMemory],
        ['usage', r.usagePercent === undefined ? undefined : `${r.usagePercent}%`],
        ['error', r.error],
        ['reasons', reasons.length ? reasons.join('; ') : undefined],
      ]),
    )
  }
  return status === 'unhealthy' ? EXIT.failed : EXIT.ok
}
