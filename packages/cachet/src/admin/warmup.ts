import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { CacheApi } from '../core/cache-api.js'
import { errorMessage } from '../core/errors.js'
import type { CallOptions } from '../core/options.js'
import { escapeControl } from './sanitize.js'
import { publishWarmupStatus } from './warmup-status.js'

/** What a warmer receives. */
export interface WarmupContext {
  cache: CacheApi
  /** When false, existing entries must be kept: use `set`, which skips keys already cached. */
  force: boolean
  /** Aborted when the run times out or the server shuts down. */
  signal: AbortSignal
  /** Reports `n` more keys created (for warmers that write through `cache` directly). */
  progress(n: number): void
  /** Writes one entry unless it exists and `force` is off; counts it. Resolves whether it wrote. */
  set<T>(key: string, value: T, options?: Pick<CallOptions, 'ttl' | 'grace' | 'tags'>): Promise<boolean>
}

/** A warm-up function for one module (e.g. products, users, vehicles, config, seo). */
export type Warmer = (context: WarmupContext) => Promise<{ keys: number } | undefined>

/** How one module's warm-up went. */
export interface WarmupModuleResult {
  module: string
  keys: number
  ok: boolean
  error?: string
  durationMs: number
}

/** A warm-up run as the admin API shows it. */
export interface WarmupJobState {
  id: string
  status: 'running' | 'completed' | 'aborted'
  trigger: 'api' | 'startup'
  force: boolean
  modules: string[]
  /** Modules finished so far, in order. */
  results: WarmupModuleResult[]
  /** Module running now. */
  current?: { module: string; keys: number }
  modulesWarmed: string[]
  keysCreated: number
  errors: number
  startedAt: number
  finishedAt?: number
  durationMs: number
}

/** Progress events of a job: 'progress' (current module and keys), 'module' (a result), 'done' (final state). */
export interface WarmupJob {
  readonly id: string
  state(): WarmupJobState
  /** Resolves with the final state. */
  readonly done: Promise<WarmupJobState>
  readonly events: EventEmitter
}

/** Raised by start() while another run is in progress. */
export class WarmupBusyError extends Error {
  constructor(readonly runningJobId: string) {
    super(`a warm-up is already running (job ${runningJobId})`)
    this.name = 'WarmupBusyError'
  }
}

/** Raised by start() when asked for modules nobody registered. */
export class UnknownWarmupModuleError extends Error {
  constructor(readonly unknown: string[]) {
    super(`unknown warm-up module(s): ${unknown.join(', ')}`)
    this.name = 'UnknownWarmupModuleError'
  }
}

/** Warmers by module name, and the runs started from them. */
export interface WarmupRegistry {
  register(module: string, warmer: Warmer, options?: { onStart?: boolean }): WarmupRegistry
  /** Registered modules, in registration order (= warm-up priority). */
  modules(): Array<{ name: string; onStart: boolean }>
  /** Starts a run in the background (every module when `modules` is empty). */
  start(
    cache: CacheApi,
    options?: { modules?: string[]; force?: boolean; timeoutMs?: number; trigger?: 'api' | 'startup' },
  ): WarmupJob
  /** Starts the modules marked onStart without waiting for them; undefined when none. */
  runStartup(cache: CacheApi, options?: { timeoutMs?: number }): WarmupJob | undefined
  job(id: string): WarmupJob | undefined
  /** Recent runs, newest first (at most 20 kept). */
  jobs(): WarmupJob[]
  /** Aborts every running job (server shutdown). */
  abortAll(): void
}

const KEPT_JOBS = 20
const MODULE_NAME = /^[A-Za-z0-9_.-]{1,64}$/

/** Creates an empty warm-up registry. */
export function createWarmupRegistry(): WarmupRegistry {
  const warmers = new Map<string, { warmer: Warmer; onStart: boolean }>()
  const jobs: WarmupJob[] = []
  const controllers = new Set<AbortController>()
  let running: WarmupJob | undefined

  const registry: WarmupRegistry = {
    register(module, warmer, options = {}) {
      if (!MODULE_NAME.test(module)) throw new TypeError(`warm-up module name must match ${MODULE_NAME}`)
      warmers.set(module, { warmer, onStart: options.onStart ?? false })
      return registry
    },

    modules: () => [...warmers].map(([name, entry]) => ({ name, onStart: entry.onStart })),

    start(cache, options = {}) {
      if (running) throw new WarmupBusyError(running.id)
      const names = options.modules?.length ? [...new Set(options.modules)] : [...warmers.keys()]
      const unknown = names.filter((name) => !warmers.has(name))
      if (unknown.length > 0) throw new UnknownWarmupModuleError(unknown)
      const controller = new AbortController()
      controllers.add(controller)
      const timer = setTimeout(
        () => controller.abort(new Error('warm-up timed out')),
        options.timeoutMs ?? 600_000,
      )
      timer.unref()
      const job = runJob(
        cache,
        names.map((name) => ({ name, warmer: warmers.get(name)!.warmer })),
        options.force ?? false,
        options.trigger ?? 'api',
        controller.signal,
      )
      running = job
      jobs.unshift(job)
      jobs.splice(KEPT_JOBS)
      void job.done.finally(() => {
        clearTimeout(timer)
        controllers.delete(controller)
        if (running === job) running = undefined
      })
      return job
    },

    runStartup(cache, options = {}) {
      const names = registry
        .modules()
        .filter((module) => module.onStart)
        .map((module) => module.name)
      if (names.length === 0) return undefined
      return registry.start(cache, { modules: names, timeoutMs: options.timeoutMs, trigger: 'startup' })
    },

    job: (id) => jobs.find((job) => job.id === id),
    jobs: () => [...jobs],
    abortAll() {
      for (const controller of controllers) controller.abort(new Error('shutting down'))
    },
  }
  return registry
}

function runJob(
  cache: CacheApi,
  modules: Array<{ name: string; warmer: Warmer }>,
  force: boolean,
  trigger: 'api' | 'startup',
  signal: AbortSignal,
): WarmupJob {
  const events = new EventEmitter()
  const state: WarmupJobState = {
    id: randomUUID(),
    status: 'running',
    trigger,
    force,
    modules: modules.map((module) => module.name),
    results: [],
    modulesWarmed: [],
    keysCreated: 0,
    errors: 0,
    startedAt: Date.now(),
    durationMs: 0,
  }
  const snapshot = (): WarmupJobState => ({
    ...state,
    durationMs: (state.finishedAt ?? Date.now()) - state.startedAt,
    results: [...state.results],
    modulesWarmed: [...state.modulesWarmed],
    current: state.current && { ...state.current },
  })

  // Publishes one after the other, so a late write never replaces the final state in Redis.
  let published: Promise<unknown> = publishWarmupStatus(cache, snapshot())
  const publish = () => {
    const state = snapshot()
    published = published.then(() => publishWarmupStatus(cache, state))
    return published
  }

  const runModule = async ({ name, warmer }: { name: string; warmer: Warmer }) => {
    const started = Date.now()
    const current = { module: name, keys: 0 }
    state.current = current
    const progress = (n: number) => {
      if (!Number.isFinite(n) || n <= 0) return
      current.keys += n
      events.emit('progress', { ...current })
    }
    const context: WarmupContext = {
      cache,
      force,
      signal,
      progress,
      async set(key, value, options) {
        if (!force && (await cache.has(key))) return false
        const written = await cache.set(key, value, options)
        if (written) progress(1)
        return written
      },
    }
    let result: WarmupModuleResult
    try {
      if (signal.aborted) throw signal.reason
      const returned = await warmer(context)
      const keys = returned && Number.isFinite(returned.keys) ? returned.keys : current.keys
      result = { module: name, keys, ok: true, durationMs: Date.now() - started }
    } catch (error) {
      // Warmers are application code: keep only a bounded, escaped message, never a stack.
      const message = escapeControl(errorMessage(error)).slice(0, 300)
      result = {
        module: name,
        keys: current.keys,
        ok: false,
        error: message,
        durationMs: Date.now() - started,
      }
    }
    state.results.push(result)
    state.keysCreated += result.keys
    if (result.ok) state.modulesWarmed.push(name)
    else state.errors++
    state.current = undefined
    events.emit('module', result)
    void publish()
  }

  const done = (async () => {
    // Sequential, in priority order (critical data first).
    for (const module of modules) await runModule(module)
    state.status = signal.aborted ? 'aborted' : 'completed'
    state.finishedAt = Date.now()
    await publish()
    const final = snapshot()
    events.emit('done', final)
    return final
  })()

  return { id: state.id, state: snapshot, done, events }
}
