import type { FastifyInstance } from 'fastify'
import { errorMessage } from '../../core/errors.js'
import { reuseFor } from '../../core/reuse.js'
import { race } from '../../core/timeouts.js'
import type { WriteBehindHealth } from '../../write/types.js'
import type { AdminOptions, WriteBehindSource } from '../options.js'
import { ok } from '../responses.js'
import { escapeControl } from '../sanitize.js'
import { HEALTH_REUSE_MS } from './health.js'

/** health() of a write-behind answers within 2 s itself; this bounds one that does not. */
const HEALTH_DEADLINE_MS = 3000
/** The name of a write-behind passed alone. */
const DEFAULT_NAME = 'write-behind'

/** One write-behind's figures, as GET /write-behind answers them (unknown figures are null). */
export interface WriteBehindReport {
  name: string
  status: WriteBehindHealth['status']
  backlog: number | null
  backlogAgeMs: number | null
  flushRate: number | null
  flushed: number | null
  failures: number | null
  deadLettered: number | null
  lastError?: string
  journal: WriteBehindHealth['journal']
  reasons: string[]
}

/** The write-behinds of the `writeBehind` option, by name, in the order given. */
export function namedWriteBehinds(option: AdminOptions['writeBehind']): Array<[string, WriteBehindSource]> {
  if (option === undefined || option === null) return []
  if (typeof (option as WriteBehindSource).health === 'function') {
    return [[DEFAULT_NAME, option as WriteBehindSource]]
  }
  const entries = Object.entries(option as Record<string, WriteBehindSource>)
  for (const [name, source] of entries) {
    if (typeof source?.health !== 'function') {
      throw new Error(`adminPlugin writeBehind.${name} has no health() method`)
    }
  }
  return entries
}

const figure = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null

const bounded = (text: string) => escapeControl(text.slice(0, 500))

async function report(name: string, source: WriteBehindSource): Promise<WriteBehindReport> {
  const outcome = await race(
    Promise.resolve().then(() => source.health()),
    HEALTH_DEADLINE_MS,
  )
  if (outcome.state !== 'done') {
    const reason =
      outcome.state === 'timeout'
        ? `health() gave no answer within ${HEALTH_DEADLINE_MS} ms`
        : `health() failed: ${errorMessage(outcome.error)}`
    return {
      name,
      status: 'unhealthy',
      backlog: null,
      backlogAgeMs: null,
      flushRate: null,
      flushed: null,
      failures: null,
      deadLettered: null,
      journal: { aof: false, appendfsync: 'unknown', maxmemoryPolicy: 'unknown' },
      reasons: [bounded(reason)],
    }
  }
  const h = outcome.value
  return {
    name,
    status: h.status,
    backlog: figure(h.backlog),
    backlogAgeMs: figure(h.backlogAgeMs),
    flushRate: figure(h.flushRate),
    flushed: figure(h.flushed),
    failures: figure(h.failures),
    deadLettered: figure(h.deadLettered),
    ...(h.lastError === undefined ? {} : { lastError: bounded(String(h.lastError)) }),
    journal: {
      aof: h.journal?.aof === true,
      appendfsync: String(h.journal?.appendfsync ?? 'unknown'),
      maxmemoryPolicy: String(h.journal?.maxmemoryPolicy ?? 'unknown'),
    },
    reasons: (h.reasons ?? []).map((reason) => bounded(String(reason))),
  }
}

/**
 * GET /write-behind: the health of each write-behind given in the `writeBehind` option (backlog, age
 * of its oldest entry, flush rate, flushed, failures, dead letters, journal durability); an empty list
 * when none is.
 */
export function registerWriteBehindRoutes(
  app: FastifyInstance,
  writeBehinds: Array<[string, WriteBehindSource]>,
): void {
  const sources = writeBehinds.map(
    ([name, source]) => [name, reuseFor(HEALTH_REUSE_MS, () => report(name, source))] as const,
  )
  app.get('/write-behind', { config: { access: 'read' } }, async () =>
    ok({ data: { writeBehinds: await Promise.all(sources.map(([, read]) => read())) } }),
  )
}
