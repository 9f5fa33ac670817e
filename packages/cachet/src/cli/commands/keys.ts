import type { CommandContext } from '../context.js'
import { bytes, printJson, table, ttl } from '../output.js'

/** Options of `cachet keys`. */
export interface KeysOptions {
  limit?: number
  cursor?: string
  /** Follow the cursor until the end (or `limit` keys in all). */
  all?: boolean
}

/** `cachet keys [pattern]`: one page of keys (SCAN on the server), with type, ttl and size. */
export async function keysCommand(ctx: CommandContext, pattern: string, options: KeysOptions): Promise<void> {
  const rows: any[] = []
  let cursor = options.cursor ?? '0'
  let last: any
  do {
    const query = new URLSearchParams({ pattern, limit: String(Math.min(options.limit ?? 100, 100)), cursor })
    const { body } = await ctx.client.request('GET', `/keys?${query}`)
    last = body
    const d = body.data ?? {}
    rows.push(...(d.keys ?? []))
    cursor = d.pagination?.hasMore ? String(d.pagination.nextCursor) : '0'
  } while (options.all && cursor !== '0')

  if (ctx.json) return printJson(ctx.output, options.all ? { keys: rows } : last)
  if (rows.length === 0) {
    ctx.output.out(`no keys match ${pattern}`)
    return
  }
  ctx.output.out(
    table([
      ['KEY', 'TYPE', 'TTL', 'SIZE'],
      ...rows.map((k) => [
        k.key,
        k.type ?? '-',
        ttl(k.ttlMs ?? (typeof k.ttl === 'number' && k.ttl >= 0 ? k.ttl * 1000 : undefined)),
        bytes(k.bytes ?? k.size) ?? '-',
      ]),
    ]),
  )
  if (cursor !== '0') ctx.output.out(`\nmore keys: cachet keys '${pattern}' --cursor ${cursor}`)
}
