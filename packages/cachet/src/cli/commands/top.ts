import { setTimeout as sleep } from 'node:timers/promises'
import type { HistoryPoint } from '../../admin/history.js'
import type { CommandContext } from '../context.js'
import { bytes, ms, pairs, percent, printJson } from '../output.js'

/** Options of `cachet top`. */
export interface TopOptions {
  /** Seconds between two refreshes. */
  interval: number
  /** Stop after this many frames (default: until Ctrl-C). */
  iterations?: number
  /** Another instance's history (its id, as GET /health names it), read through the one answering. */
  instance?: string
}

const BLOCKS = '▁▂▃▄▅▆▇█'
const SPARK_WIDTH = 60
const CIRCUIT = ['closed', 'half-open', 'OPEN']

/** The last `SPARK_WIDTH` values as block characters, scaled to their maximum (a gap for null). */
export function sparkline(values: ReadonlyArray<number | null>): string {
  const shown = values.slice(-SPARK_WIDTH)
  const max = Math.max(0, ...shown.map((v) => v ?? 0))
  return shown
    .map((v) => (v === null ? ' ' : BLOCKS[max === 0 ? 0 : Math.round((v / max) * (BLOCKS.length - 1))]))
    .join('')
}

const percentiles = (p: { p50: number; p99: number } | null) =>
  p ? `p50 ${ms(p.p50)} · p99 ${ms(p.p99)}` : '—'

/** One screen of `cachet top`: the latest sample of GET /history and the trend of the window. */
export function renderTop(history: {
  instance: string
  /** Set when the series is another instance's (`?instance=<id>`): `instance` is the one that answered. */
  of?: string
  intervalMs: number
  points: HistoryPoint[]
}): string {
  const { points } = history
  const last = points.at(-1)
  const who = history.of ? `${history.of} (via ${history.instance})` : history.instance
  const head = `cachet top · instance ${who} · a point every ${history.intervalMs / 1000} s · ${points.length} point(s)`
  if (!last) return `${head}\nwaiting for the first sample…`
  const ops = last.opsPerSecond
  const trend = (label: string, pick: (p: HistoryPoint) => number | null) =>
    `${label.padEnd(9)} ${sparkline(points.map(pick))}`
  return [
    head,
    `at ${new Date(last.at).toISOString()}`,
    '',
    pairs([
      ['hit rate', percent(last.hitRate) ?? '—'],
      ['ops/s', `hit ${ops.hit} · miss ${ops.miss} · stale ${ops.stale} · error ${ops.error}`],
      ['read', percentiles(last.readMs)],
      ['loader', percentiles(last.loaderMs)],
      [
        'memory',
        `L1 ${bytes(last.l1Bytes ?? undefined) ?? '—'} · Redis ${bytes(last.redisMemoryBytes ?? undefined) ?? '—'}`,
      ],
      ['L2', `${last.l2Errors} error(s) · circuit ${last.circuit === null ? 'none' : CIRCUIT[last.circuit]}`],
    ]),
    '',
    trend('hit rate', (p) => p.hitRate),
    trend('ops/s', (p) => p.opsPerSecond.hit + p.opsPerSecond.miss + p.opsPerSecond.stale),
    trend('loader', (p) => p.loaderMs?.p99 ?? null),
  ].join('\n')
}

/**
 * `cachet top`: the dashboard's trend figures in a terminal, refreshed every `interval` seconds.
 * On a terminal each frame replaces the last; otherwise frames are printed one after another.
 */
export async function topCommand(ctx: CommandContext, options: TopOptions): Promise<void> {
  for (let frame = 0; options.iterations === undefined || frame < options.iterations; frame++) {
    if (frame > 0) await sleep(options.interval * 1000)
    const query = options.instance ? `?instance=${options.instance}` : ''
    const { body } = await ctx.client.request('GET', `/history${query}`)
    if (ctx.json) printJson(ctx.output, body.data)
    else ctx.output.out(`${ctx.output.tty ? '\u001b[H\u001b[2J' : ''}${renderTop(body.data)}`)
  }
}
