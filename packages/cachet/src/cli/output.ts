import { formatBytes } from '../core/format-bytes.js'
/** Where command output goes; tests pass their own. */
export interface Output {
  out(line: string): void
  err(line: string): void
  /** True when stdout is a terminal (progress bars, prompts). */
  readonly tty: boolean
}

/** The process' stdout and stderr. */
export const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  get tty() {
    return Boolean(process.stdout.isTTY)
  },
}

/** Prints a value as indented JSON (the --json mode). */
export function printJson(output: Output, value: unknown): void {
  output.out(JSON.stringify(value, null, 2))
}

/** Left-aligned columns, sized to their widest cell. */
export function table(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length)
    })
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** `label: value` lines with aligned values. */
export function pairs(entries: ReadonlyArray<readonly [string, unknown]>): string {
  const shown = entries.filter(([, value]) => value !== undefined && value !== null)
  const width = Math.max(0, ...shown.map(([label]) => label.length))
  return shown.map(([label, value]) => `${`${label}:`.padEnd(width + 1)} ${String(value)}`).join('\n')
}

/** 0.873 → '87.3%'; a string (the admin API's '87.3%') passes through. */
export function percent(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value !== 'number') return undefined
  return `${(value * 100).toFixed(1)}%`
}

/** 1536 → '1.5K' (the admin API's own format); a string passes through. */
export function bytes(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  return typeof value === 'number' ? formatBytes(value) : undefined
}

/** Milliseconds as '4.2 ms' / '1.3 s'. */
export function ms(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value !== 'number') return undefined
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(value < 10 ? 2 : 0)} ms`
}

/** A remaining TTL in ms as '4m 12s'; 'none' when there is none. */
export function ttl(valueMs: unknown): string {
  if (typeof valueMs !== 'number' || valueMs < 0) return 'none'
  const s = Math.round(valueMs / 1000)
  if (s >= 86_400) return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
  if (s >= 60) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${s}s`
}
