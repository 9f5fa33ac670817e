import type { AuditLog, AuditRecord } from './audit-log.js'
import { FixedWindows, type WindowStart } from './fixed-windows.js'

/** One refused request, as the auth hook sees it. */
export interface Denial {
  /** `anonymous`, or `jwt:<sub>` for a valid JWT without the admin role. */
  who: string
  /** The client address as Fastify reports it, and the key it is grouped under (IPv6 /64). */
  ip: string
  address: string
  status: number
  reason: string
  method: string
  url: string
}

/** Records denied requests in the audit trail, one record per client and window. */
export interface DenialRecorder {
  /** Writes the first denial of a client in the window at once; later ones are counted. */
  record(denial: Denial): Promise<void>
  /** Writes the counts of every open window (at shutdown). */
  flush(): Promise<void>
}

/** Clients with an open window at most; past it, denials of new clients share one record. */
const MAX_TRACKED_CLIENTS = 10_000

interface Window extends WindowStart {
  /** Denials after the first one, written when the window closes. */
  repeats: number
  first: Denial
}

/**
 * Groups denials by principal, address and status within `windowMs`: the first one is recorded
 * before its answer is sent (count 1); the repeats are recorded once, when the window closes, as one
 * record whose `count` is their number. So the counts of the denied records add up to the denied
 * requests, and one client costs at most two records a window whatever its rate. A client table
 * full of open windows (a spray of addresses) sends new clients into one shared overflow window.
 */
export function createDenialRecorder(
  audit: AuditLog,
  windowMs: number,
  now: () => number = Date.now,
  maxTracked = MAX_TRACKED_CLIENTS,
): DenialRecorder {
  const write = (record: AuditRecord) => audit.write(record).catch(() => {})
  const base = (denial: Denial, at: number) => ({
    at,
    who: denial.who,
    ip: denial.ip,
    action: 'auth',
    params: { method: denial.method, url: denial.url },
    outcome: 'denied' as const,
    status: denial.status,
    keysAffected: 0,
    durationMs: 0,
  })
  /** A window's repeats as one record, written when it closes. */
  const windows = new FixedWindows<Window, Promise<void>>(windowMs, now, (_key, window) => {
    if (window.repeats === 0) return Promise.resolve()
    return write({
      ...base(window.first, now()),
      reason: `${window.repeats} more denied request(s) since ${new Date(window.start).toISOString()} (last: ${window.first.reason})`,
      count: window.repeats,
    })
  })

  const sweep = setInterval(() => windows.closeEnded(), windowMs)
  sweep.unref()

  return {
    async record(denial) {
      // Closing deletes at once (its record is written in the background), which makes room.
      windows.closeEnded()
      let key = `${denial.who}\n${denial.address}\n${denial.status}`
      if (!windows.get(key) && windows.size >= maxTracked) {
        key = `\n*\n${denial.status}`
        denial = {
          ...denial,
          who: 'many',
          ip: '*',
          reason: `more clients than ${maxTracked}: ${denial.reason}`,
        }
      }
      const window = windows.get(key)
      if (window) {
        window.repeats++
        return
      }
      windows.open(key, { start: now(), repeats: 0, first: denial })
      await write({ ...base(denial, now()), reason: denial.reason, count: 1 })
    },

    async flush() {
      clearInterval(sweep)
      await Promise.all(windows.closeAll())
    },
  }
}
