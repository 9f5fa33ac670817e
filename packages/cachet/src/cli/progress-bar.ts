import type { Output } from './output.js'

/** A one-line progress bar on a terminal; plain lines when stdout is not one (logs, CI). */
export class ProgressBar {
  readonly #output: Output
  readonly #width: number
  #lastLine = ''

  constructor(output: Output, width = 30) {
    this.#output = output
    this.#width = width
  }

  /** Shows `done` of `total` (total 0 = unknown) and a label. */
  update(done: number, total: number, label = ''): void {
    const ratio = total > 0 ? Math.min(1, done / total) : 0
    const filled = Math.round(ratio * this.#width)
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(this.#width - filled)}]`
    const line = `${bar} ${total > 0 ? `${done}/${total}` : `${done}`} ${label}`.trimEnd()
    if (line === this.#lastLine) return
    this.#lastLine = line
    if (this.#output.tty) process.stdout.write(`\r\u001b[2K${line}`)
    else this.#output.out(line)
  }

  /** Ends the bar's line so the next output starts on a fresh one. */
  done(): void {
    if (this.#output.tty && this.#lastLine) process.stdout.write('\n')
  }
}
