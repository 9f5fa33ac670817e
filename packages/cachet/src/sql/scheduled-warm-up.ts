import { toMs } from '../core/duration.js'
import { type Duration, InvalidOptionError } from '../index.js'
import type { QueryCache, WarmUpQuery, WarmUpResult } from './query-cache.js'

/** Options of scheduleWarmUp(). */
export interface ScheduledWarmUpOptions {
  /** Time between the end of one run and the start of the next. @default '30m' */
  every?: Duration
  /** Run once at once, rather than after the first `every`. @default true */
  immediately?: boolean
  /** Told the result of every run (failures are counted in it, never thrown). */
  onRun?: (result: WarmUpResult) => void
}

/** A running schedule. */
export interface ScheduledWarmUp {
  /** Runs so far. */
  readonly runs: number
  /** The last run's result. */
  readonly last: WarmUpResult | undefined
  /** Stops the schedule; resolves once a run in progress has finished. */
  stop(): Promise<void>
}

/**
 * The scheduled warm-up of the SQL `QueryCache` cachet replaces: runs `queries.warmUp(list)` now
 * (unless `immediately: false`) and then `every` after each run ends, so runs never overlap however
 * slow the database is. The timer does not keep the process alive.
 */
export function scheduleWarmUp(
  queries: QueryCache,
  list: readonly WarmUpQuery[],
  options: ScheduledWarmUpOptions = {},
): ScheduledWarmUp {
  const everyMs = toMs(options.every ?? '30m', 'every')
  if (everyMs < 1_000) throw new InvalidOptionError(`every must be at least 1s, got ${everyMs} ms`)
  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<void> | undefined
  let stopped = false
  const state = { runs: 0, last: undefined as WarmUpResult | undefined }

  const run = () => {
    running = queries.warmUp(list).then((result) => {
      state.runs++
      state.last = result
      running = undefined
      schedule()
      try {
        options.onRun?.(result)
      } catch {
        // A failing callback must not stop the schedule.
      }
    })
  }
  const schedule = () => {
    if (stopped) return
    timer = setTimeout(run, everyMs)
    timer.unref?.()
  }
  if (options.immediately ?? true) run()
  else schedule()

  return {
    get runs() {
      return state.runs
    },
    get last() {
      return state.last
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
