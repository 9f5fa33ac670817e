import type { CommandContext } from '../context.js'
import { bytes, ms, pairs, percent, printJson, table } from '../output.js'

/** `cachet stats`: hit rate, hits/misses, memory, keys, loader vs cache time, per namespace. */
export async function statsCommand(ctx: CommandContext): Promise<void> {
  const { body } = await ctx.client.request('GET', '/stats')
  if (ctx.json) return printJson(ctx.output, body)
  const d = body.data ?? {}
  const c = d.cache ?? d
  ctx.output.out(
    pairs([
      ['hit rate', percent(c.hitRate)],
      ['hits', c.hits],
      ['misses', c.misses],
      ['stale hits', c.staleHits],
      ['errors', c.errors],
      ['keys', d.keyCount],
      ['memory', bytes(d.memory)],
      ['loader avg', ms(c.loaderMs)],
      ['cache avg', ms(c.cacheMs)],
      [
        'redis',
        d.connected === undefined ? undefined : d.connected ? `connected ${d.version ?? ''}` : 'down',
      ],
    ]),
  )
  const namespaces = Object.entries((d.namespaces ?? c.namespaces ?? {}) as Record<string, any>)
  if (namespaces.length > 0) {
    ctx.output.out('')
    ctx.output.out(
      table([
        ['NAMESPACE', 'HITS', 'MISSES', 'HIT RATE', 'KEYS', 'MEMORY'],
        ...namespaces.map(([name, n]) => [
          name,
          String(n.hits ?? '-'),
          String(n.misses ?? '-'),
          percent(n.hitRate) ?? '-',
          String(n.keys ?? n.keyCount ?? '-'),
          bytes(n.memory ?? n.bytes) ?? '-',
        ]),
      ]),
    )
  }
}
