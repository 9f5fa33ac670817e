import type { CommandContext } from '../context.js'
import { bytes, pairs, printJson, ttl } from '../output.js'

/** `cachet inspect <key>`: the decoded value, state (fresh/stale), tags, ttl and size of one key. */
export async function inspectCommand(ctx: CommandContext, key: string): Promise<void> {
  const { body } = await ctx.client.request('GET', `/keys/${encodeURIComponent(key)}`)
  if (ctx.json) return printJson(ctx.output, body)
  const d = body.data ?? {}
  ctx.output.out(
    pairs([
      ['key', d.key ?? key],
      ['state', d.state],
      ['type', d.type],
      ['ttl', ttl(d.ttlMs)],
      ['tags', Array.isArray(d.tags) ? d.tags.join(', ') || '-' : undefined],
      [
        'stored',
        d.storedBytes === undefined
          ? undefined
          : `${bytes(d.storedBytes)}${d.compressed ? ' (compressed)' : ''}`,
      ],
      ['created', d.createdAt ? new Date(d.createdAt).toISOString() : undefined],
      ['fresh until', d.freshUntil ? new Date(d.freshUntil).toISOString() : undefined],
      ['stale until', d.staleUntil ? new Date(d.staleUntil).toISOString() : undefined],
    ]),
  )
  ctx.output.out('value:')
  ctx.output.out(
    d.truncated ? `${d.preview}… (truncated)` : (JSON.stringify(d.value, null, 2) ?? 'undefined'),
  )
}
