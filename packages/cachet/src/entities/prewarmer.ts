import { setTimeout as sleep } from 'node:timers/promises'
import { InvalidOptionError } from '../core/errors.js'
import type { PrewarmCursorStore } from './prewarm-cursor.js'
import type { EntityCache } from './types.js'

/** Options of createPrewarmer(). */
export interface PrewarmerOptions<T> {
  entityCache: EntityCache<T>
  /** The ids to warm, e.g. participants of conversations active in the last 7 days. */
  ids: () => AsyncIterable<string> | Iterable<string> | Promise<string[]>
  /** Ids per batch (one fetchMany call, one pipeline). @default 500 */
  batchSize?: number
  /** Pause between batches, to spare the owning service. @default 1500 */
  pauseMs?: number
  /**
   * Keeps the cursor outside the process (`redisCursorStore()`), so a restart resumes a cancelled run.
   * A store that fails is ignored: the run goes on, and starts over after a restart.
   */
  cursorStore?: PrewarmCursorStore
}

/** Progress after each batch. */
export interface PrewarmProgress {
  /** Index of the batch just finished (0-based, over the whole id list). */
  batch: number
  /** Where a later run() resumes: the index of the next batch. */
  cursor: number
  cached: number
  errors: number
}

/** Outcome of one run(). */
export interface PrewarmResult {
  /** Ids cached by this run (already present or loaded); ids the source lacks are not counted. */
  cached: number
  /** Ids of batches that failed (source or Redis error), plus ids the source did not return. */
  errors: number
  durationMs: number
  /** False when cancelled; run() again to resume at `cursor`. */
  completed: boolean
  cursor: number
  /** The batch this run started at: above 0 when it resumed a cancelled run. */
  resumedAt: number
}

/** A resumable batch prewarmer (the `SmartCachePrewarmer` it replaces). */
export interface Prewarmer {
  run(options?: {
    signal?: AbortSignal
    onProgress?: (progress: PrewarmProgress) => void
  }): Promise<PrewarmResult>
  /** Index of the next batch to warm; 0 after a completed run. */
  readonly cursor: number
}

/**
 * Warms an entity cache in batches: ids already cached cost one EXISTS, the others are loaded with one
 * fetchMany per batch and stored before the next batch starts. Rate limited by a pause between batches,
 * cancellable by an AbortSignal, and resumable: a cancelled run remembers the next batch index (in its
 * cursorStore too, when given, so a restarted process resumes it).
 */
export function createPrewarmer<T>(options: PrewarmerOptions<T>): Prewarmer {
  const batchSize = options.batchSize ?? 500
  const pauseMs = options.pauseMs ?? 1_500
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidOptionError('batchSize must be ≥ 1')
  if (!(pauseMs >= 0)) throw new InvalidOptionError('pauseMs must be ≥ 0')
  const store = options.cursorStore
  let cursor = 0

  return {
    get cursor() {
      return cursor
    },
    async run({ signal, onProgress } = {}) {
      const started = Date.now()
      const saved = await store?.load(batchSize).catch(() => undefined)
      if (saved !== undefined) cursor = saved
      const resumedAt = cursor
      let cached = 0
      let errors = 0
      let index = 0
      let warmedOne = false
      for await (const batch of batches(await options.ids(), batchSize)) {
        // Batches finished by an earlier, cancelled run are skipped (the id list must be stable).
        if (index < cursor) {
          index++
          continue
        }
        if (signal?.aborted) break
        if (warmedOne && !(await pause(pauseMs, signal))) break
        try {
          const result = await options.entityCache.warm(batch)
          cached += result.cached
          errors += result.missing.length
        } catch {
          errors += batch.length
        }
        warmedOne = true
        cursor = ++index
        await store?.save(cursor, batchSize).catch(() => {})
        onProgress?.({ batch: index - 1, cursor, cached, errors })
      }
      const completed = !signal?.aborted
      if (completed) {
        cursor = 0
        await store?.save(0, batchSize).catch(() => {})
      }
      return { cached, errors, durationMs: Date.now() - started, completed, cursor, resumedAt }
    },
  }
}

async function* batches(
  ids: AsyncIterable<string> | Iterable<string>,
  size: number,
): AsyncGenerator<string[]> {
  let batch: string[] = []
  for await (const id of ids) {
    batch.push(id)
    if (batch.length === size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

/** Waits `ms`; resolves false at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (ms === 0) return Promise.resolve(!signal?.aborted)
  return sleep(ms, true, { signal }).catch(() => false)
}
