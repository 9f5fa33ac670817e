import type { Measurement } from './harness.js'

/** One line of a table: a contender's figure and its ratio to the raw limit. */
export interface Row {
  contender: string
  opsPerSec?: number
  nsPerOp?: number
  /** Node CPU time per op (this process only; Redis' CPU is not in it). */
  cpuNsPerOp?: number
  /** Stored bytes in Redis (size scenario). */
  bytes?: number
  /** Figure / raw limit: throughput ratio (higher is better), or time or size ratio (lower is better). */
  ratio: number
  note?: string
}

export interface Table {
  title: string
  /** What the ratio compares. */
  ratioOf: string
  rows: Row[]
}

export interface Goal {
  name: string
  actual: number
  target: number
  /** '>=' for throughput ratios, '<=' for time and size ratios. */
  direction: '>=' | '<='
  met: boolean
}

export interface ScenarioResult {
  id: string
  title: string
  tables: Table[]
  goals: Goal[]
}

/** What cachet's own counters say about a run: a hit scenario that shows misses or errors is not clean. */
export function cachetNote(stats: { hits: number; misses: number; errors: number }): string {
  const lookups = stats.hits + stats.misses
  const note = `cachet counted ${stats.hits} hits, ${stats.misses} misses, ${stats.errors} errors`
  return stats.errors > 0 || (lookups > 0 && stats.misses / lookups > 0.01)
    ? `${note} (L2 deadline missed under machine load: figure not clean)`
    : note
}

export function goal(name: string, actual: number, direction: '>=' | '<=', target: number): Goal {
  const met = direction === '>=' ? actual >= target : actual <= target
  return { name, actual, target, direction, met }
}

/** Rows of a throughput table: ratio = ops/s ÷ the raw limit's ops/s. */
export function throughputRows(
  measurements: Measurement[],
  limitName: string,
  notes: Record<string, string> = {},
): Row[] {
  const limit = measurements.find((m) => m.name === limitName)!
  return measurements.map((m) => ({
    contender: m.name,
    opsPerSec: m.opsPerSec,
    nsPerOp: m.nsPerOp,
    cpuNsPerOp: m.cpuNsPerOp,
    ratio: m.opsPerSec / limit.opsPerSec,
    note: notes[m.name],
  }))
}

function formatOps(ops: number): string {
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)} M/s`
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(1)} k/s`
  return `${ops.toFixed(1)} /s`
}

function formatNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`
  return `${ns.toFixed(0)} ns`
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`
}

/** The tables as Markdown (the console output and bench/README.md use the same format). */
export function toMarkdown(results: ScenarioResult[]): string {
  const out: string[] = []
  for (const result of results) {
    out.push(`### ${result.title}`, '')
    for (const table of result.tables) {
      const sized = table.rows.some((row) => row.bytes !== undefined)
      const timed = table.rows.some((row) => row.opsPerSec !== undefined)
      out.push(`${table.title} (ratio: ${table.ratioOf})`, '')
      const head = [
        'contender',
        ...(timed ? ['ops/s', 'per op', 'node CPU/op'] : []),
        ...(sized ? ['stored'] : []),
        'ratio',
        'note',
      ]
      out.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`)
      for (const row of table.rows) {
        const cells = [row.contender]
        if (timed)
          cells.push(
            row.opsPerSec ? formatOps(row.opsPerSec) : '–',
            row.nsPerOp ? formatNs(row.nsPerOp) : '–',
            row.cpuNsPerOp ? formatNs(row.cpuNsPerOp) : '–',
          )
        if (sized) cells.push(row.bytes !== undefined ? formatBytes(row.bytes) : '–')
        cells.push(`${row.ratio.toFixed(3)}×`, row.note ?? '')
        out.push(`| ${cells.join(' | ')} |`)
      }
      out.push('')
    }
  }
  const goals = results.flatMap((result) => result.goals)
  out.push('### Goals (issue 2)', '', '| goal | measured | target | met |', '|---|---|---|---|')
  for (const g of goals) {
    out.push(
      `| ${g.name} | ${g.actual.toFixed(3)}× | ${g.direction} ${g.target}× | ${g.met ? 'yes' : '**no**'} |`,
    )
  }
  return out.join('\n')
}
