import type { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import { withDeadline } from '../core/timeouts.js'
import { escapeControl } from './sanitize.js'

/** What happened to an admin call. */
export type AuditOutcome = 'ok' | 'denied' | 'error' | 'dry-run'

/** One audit record (RELIABILITY S9): who, when (UTC ms), action, sanitised params, outcome, keys affected, duration. */
export interface AuditRecord {
  /** Stream entry id, set when read back. */
  id?: string
  at: number
  who: string
  ip: string
  action: string
  params: unknown
  outcome: AuditOutcome
  status: number
  keysAffected: number
  durationMs: number
  reason?: string
}

/** Raised when the audit sink cannot take a record: destructive calls then fail closed with 503. */
export class AuditUnavailableError extends Error {
  constructor(cause: unknown) {
    super('audit log unavailable', { cause })
    this.name = 'AuditUnavailableError'
  }
}

/** An append-only audit trail. */
export interface AuditLog {
  readonly sink: 'redis' | 'memory'
  /** Appends one record, then logs it; rejects with AuditUnavailableError when the sink fails. */
  write(record: AuditRecord): Promise<void>
  /** Rejects with AuditUnavailableError unless a write would succeed now. */
  ensureWritable(): Promise<void>
  /** Newest first; `cursor` is the id of the last record of the previous page. */
  list(query: {
    limit: number
    cursor?: string
    action?: string
    outcome?: AuditOutcome
  }): Promise<{ records: AuditRecord[]; nextCursor: string | null }>
}

/** Options of createAuditLog(). */
export interface AuditLogOptions {
  redis?: Redis | Cluster
  streamKey: string
  maxLen: number
  logger: Pick<Logger, 'info' | 'error'>
  timeoutMs: number
}

function matches(record: AuditRecord, query: { action?: string; outcome?: AuditOutcome }): boolean {
  return (
    (!query.action || record.action === query.action) && (!query.outcome || record.outcome === query.outcome)
  )
}

const PAGE_SCAN = 500
const MAX_SCANNED_PAGES = 10

/**
 * The audit trail: a capped Redis stream (`XADD … MAXLEN ~ maxLen`) when a client is given, else an
 * in-memory ring of the same size. Every record is also logged through pino, with control
 * characters already escaped so a pattern cannot forge a log line.
 */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { redis, streamKey, maxLen, logger, timeoutMs } = options
  const memory: AuditRecord[] = []
  let sequence = 0

  const ready = () => {
    // ioredis queues commands while disconnected; a closed client must fail now, not later.
    if (redis && redis.status !== 'ready') throw new Error(`redis client is ${redis.status}`)
  }

  const log = (record: AuditRecord) => {
    const line = { ...record, reason: record.reason === undefined ? undefined : escapeControl(record.reason) }
    logger.info({ audit: line }, `cachet admin ${record.action} ${record.outcome}`)
  }

  return {
    sink: redis ? 'redis' : 'memory',

    async write(record) {
      if (redis) {
        try {
          ready()
          await withDeadline(
            redis.xadd(streamKey, 'MAXLEN', '~', String(maxLen), '*', 'record', JSON.stringify(record)),
            timeoutMs,
            'audit XADD',
          )
        } catch (error) {
          logger.error({ audit: record, err: error }, 'cachet admin audit record could not be written')
          throw new AuditUnavailableError(error)
        }
      } else {
        memory.push({ ...record, id: `${record.at}-${sequence++}` })
        if (memory.length > maxLen) memory.splice(0, memory.length - maxLen)
      }
      log(record)
    },

    async ensureWritable() {
      if (!redis) return
      try {
        ready()
        await withDeadline(redis.ping(), timeoutMs, 'audit PING')
      } catch (error) {
        throw new AuditUnavailableError(error)
      }
    },

    async list(query) {
      const records: AuditRecord[] = []
      if (!redis) {
        let index = memory.length - 1
        if (query.cursor) index = memory.findIndex((record) => record.id === query.cursor) - 1
        for (; index >= 0 && records.length < query.limit; index--) {
          if (matches(memory[index]!, query)) records.push(memory[index]!)
        }
        return { records, nextCursor: index >= 0 ? (records.at(-1)?.id ?? null) : null }
      }
      let end = query.cursor ? `(${query.cursor}` : '+'
      for (let page = 0; page < MAX_SCANNED_PAGES && records.length < query.limit; page++) {
        const entries = await withDeadline(
          redis.xrevrange(streamKey, end, '-', 'COUNT', PAGE_SCAN),
          timeoutMs,
          'audit XREVRANGE',
        )
        for (const [id, fields] of entries) {
          end = `(${id}`
          const record = parseRecord(id, fields)
          if (record && matches(record, query)) records.push(record)
          if (records.length >= query.limit) break
        }
        if (entries.length < PAGE_SCAN) {
          if (records.length < query.limit) end = ''
          break
        }
      }
      return { records, nextCursor: end.startsWith('(') ? end.slice(1) : null }
    },
  }
}

function parseRecord(id: string, fields: string[]): AuditRecord | undefined {
  const index = fields.indexOf('record')
  if (index === -1) return undefined
  try {
    return { ...(JSON.parse(fields[index + 1]!) as AuditRecord), id }
  } catch {
    return undefined
  }
}
