import { performance } from 'node:perf_hooks'

/** One benchmarked operation: returns when the operation is done. */
export type Op = () => Promise<unknown>

/** A contender of a comparison: a name and its operation. */
export interface Contender {
  name: string
  op: Op
  /**
   * Awaited at the end of every sample, inside the timed window: waits for work the operations left
   * running in the background (e.g. L2 writes), so a contender cannot look fast by deferring work.
   */
  settle?: () => Promise<unknown>
}

/** The median of several timed samples of one contender. */
export interface Measurement {
  name: string
  opsPerSec: number
  nsPerOp: number
  /** ops/s of every sample, in the order taken. */
  samples: number[]
  /**
   * CPU time of this process (user + system) per op, median over samples: unlike ops/s, it hardly
   * moves when other processes compete for the cores, so it shows a contender's own cost.
   */
  cpuNsPerOp: number
}

interface Sample {
  opsPerSec: number
  cpuNsPerOp: number
}

function cpuMicros(): number {
  const usage = process.cpuUsage()
  return usage.user + usage.system
}

/** How a comparison is run: one at a time (concurrency 1) or with N operations in flight. */
export interface RunPlan {
  concurrency: number
  warmupMs: number
  sampleMs: number
  rounds: number
}

/** Settings for the whole run; `--quick` shortens every sample (for a smoke run). */
export const QUICK = process.argv.includes('--quick')

export function plan(concurrency: number, overrides: Partial<RunPlan> = {}): RunPlan {
  const scale = QUICK ? 0.2 : 1
  return {
    concurrency,
    warmupMs: Math.round((overrides.warmupMs ?? 400) * scale),
    sampleMs: Math.round((overrides.sampleMs ?? 400) * scale),
    rounds: QUICK ? 3 : (overrides.rounds ?? 5),
  }
}

/** Runs `op` one at a time for about `ms`; checks the clock every `batch` ops. Returns ops/s. */
async function serialSample(op: Op, ms: number, settle?: () => Promise<unknown>): Promise<Sample> {
  let batch = 64
  let count = 0
  const cpu = cpuMicros()
  const start = performance.now()
  let elapsed = 0
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) await op()
    count += batch
    elapsed = performance.now() - start
    // Grow the batch while batches are short, so the clock read is noise.
    if (elapsed < ms / 20 && batch < 65_536) batch *= 2
  }
  if (settle) {
    await settle()
    elapsed = performance.now() - start
  }
  return { opsPerSec: (count / elapsed) * 1000, cpuNsPerOp: ((cpuMicros() - cpu) * 1000) / count }
}

/** Runs `op` with `concurrency` operations in flight for about `ms`. Returns ops/s. */
async function concurrentSample(
  op: Op,
  concurrency: number,
  ms: number,
  settle?: () => Promise<unknown>,
): Promise<Sample> {
  let count = 0
  const cpu = cpuMicros()
  const start = performance.now()
  const end = start + ms
  const worker = async () => {
    for (;;) {
      for (let i = 0; i < 16; i++) await op()
      count += 16
      if (performance.now() >= end) return
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  if (settle) await settle()
  return {
    opsPerSec: (count / (performance.now() - start)) * 1000,
    cpuNsPerOp: ((cpuMicros() - cpu) * 1000) / count,
  }
}

function sample(contender: Contender, concurrency: number, ms: number): Promise<Sample> {
  return concurrency <= 1
    ? serialSample(contender.op, ms, contender.settle)
    : concurrentSample(contender.op, concurrency, ms, contender.settle)
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Warms every contender up, then takes `rounds` samples of each, interleaved (A B C, B C A, …) so
 * that drift on a shared machine hits every contender alike; reports the median of each.
 */
export async function compare(contenders: readonly Contender[], run: RunPlan): Promise<Measurement[]> {
  for (const contender of contenders) await sample(contender, run.concurrency, run.warmupMs)
  const samples = contenders.map(() => [] as Sample[])
  for (let round = 0; round < run.rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const index = (i + round) % contenders.length
      samples[index]!.push(await sample(contenders[index]!, run.concurrency, run.sampleMs))
    }
  }
  return contenders.map((contender, i) => {
    const opsPerSec = median(samples[i]!.map((s) => s.opsPerSec))
    return {
      name: contender.name,
      opsPerSec,
      nsPerOp: 1e9 / opsPerSec,
      samples: samples[i]!.map((s) => Math.round(s.opsPerSec)),
      cpuNsPerOp: median(samples[i]!.map((s) => s.cpuNsPerOp)),
    }
  })
}
