import { roundMs } from '../core/stats.js'

/** p50 and p99 of the durations of one interval, in ms. */
export interface Percentiles {
  p50: number
  p99: number
}

/**
 * The durations seen during one sampling interval, for their percentiles. Memory is bounded: past
 * `capacity` durations it keeps a uniform random sample of them (reservoir sampling), so a burst of
 * a million hits costs the same as `capacity` of them and the percentiles stay unbiased.
 */
export class LatencySample {
  #values: number[] = []
  #seen = 0

  constructor(
    private readonly capacity = 2048,
    private readonly random: () => number = Math.random,
  ) {}

  add(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    this.#seen++
    if (this.#values.length < this.capacity) {
      this.#values.push(ms)
      return
    }
    const slot = Math.floor(this.random() * this.#seen)
    if (slot < this.capacity) this.#values[slot] = ms
  }

  /** The percentiles of what was added since the last call (null when nothing was), and starts over. */
  take(): Percentiles | null {
    const values = this.#values.sort((a, b) => a - b)
    this.#values = []
    this.#seen = 0
    if (values.length === 0) return null
    return { p50: roundMs(nearestRank(values, 0.5)), p99: roundMs(nearestRank(values, 0.99)) }
  }
}

function nearestRank(sorted: readonly number[], quantile: number): number {
  return sorted[Math.max(0, Math.ceil(quantile * sorted.length) - 1)]!
}
