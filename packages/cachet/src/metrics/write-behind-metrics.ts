import type { Registry } from 'prom-client'
import { requirePeer } from '../core/peer.js'
import { reuseFor } from '../core/reuse.js'
import { valueWithin } from '../core/timeouts.js'
import type { WriteBehindHealth } from '../write/types.js'

const { Gauge } = requirePeer<typeof import('prom-client')>('prom-client', 'cachet/prometheus')

/** Scrapes within a second share one read of the journal. */
const SNAPSHOT_REUSE_MS = 1000

/**
 * Gauges of a write-behind (docs/write-behind.md), read from its health() on scrape: backlog and its
 * age, flush rate, flushed entries, failed flushes, dead letters, and the journal's durability.
 */
export function registerWriteBehindMetrics(
  registry: Registry,
  writeBehind: { health(): Promise<WriteBehindHealth> },
  options: { prefix?: string; timeoutMs?: number } = {},
): void {
  const p = `${options.prefix ?? 'cachet_'}write_behind_`
  const read = reuseFor(SNAPSHOT_REUSE_MS, () => valueWithin(writeBehind.health(), options.timeoutMs ?? 1000))
  const gauge = (name: string, help: string, value: (health: WriteBehindHealth) => number) =>
    new Gauge({
      name: `${p}${name}`,
      help,
      registers: [registry],
      async collect() {
        const health = await read().catch(() => undefined)
        // Journal unreachable: NaN, not a 0 that would look like an empty backlog.
        this.set(health ? value(health) : Number.NaN)
      },
    })
  gauge('backlog', 'Journal entries not yet in the database', (h) => h.backlog)
  gauge(
    'backlog_age_seconds',
    'Age of the oldest journal entry not yet in the database',
    (h) => h.backlogAgeMs / 1000,
  )
  gauge('flush_rate', 'Journal entries flushed per second over the last 10 s', (h) => h.flushRate)
  gauge('flushed_entries', 'Journal entries flushed since start', (h) => h.flushed)
  gauge('flush_failures', 'flush() calls that threw since start', (h) => h.failures)
  gauge(
    'dead_lettered_entries',
    'Journal entries moved to the dead-letter stream since start',
    (h) => h.deadLettered,
  )
  gauge('journal_fsync_always', '1 when the journal Redis fsyncs every write (appendfsync always)', (h) =>
    h.journal.appendfsync === 'always' ? 1 : 0,
  )
}
