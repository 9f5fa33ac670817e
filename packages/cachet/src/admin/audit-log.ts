import type { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import { withDeadline } from '../core/timeouts.js'
import {
  type AuditSource,
  compare,
  endAfter,
  mergePages,
  type Position,
  parseCursor,
  type SourcePage,
} from './audit-pages.js'
import { escapeControl } from './sanitize.js'

/** What happened to an admin call. */
export type AuditOutcome = 'ok' | 'denied' | 'error' | 'dry-run'

/** One audit record (docs/admin.md): who, when (UTC ms), action, sanitised params, outcome, keys affected, duration. */
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
  /** Denied records only: how many denied requests this record stands for (see createDenialRecorder). */
  count?: number
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
  /**
   * Appends one record, then logs it; rejects with AuditUnavailableError when the sink fails.
   * Denied records go to a stream capped apart, so denials can never push real actions out.
   */
  write(record: AuditRecord): Promise<void>
  /** Rejects with AuditUnavailableError unless a write would succeed now. */
  ensureWritable(): Promise<void>
  /** Both streams merged, newest first; `cursor` is the `nextCursor` of the previous page. */
  list(query: {
    limit: number
    cursor?: string
    action?: string
    outcome?: AuditOutcome
    /** Exact principal: `token:<8 hex>`, `jwt:<sub>`, `anonymous`. */
    who?: string
  }): Promise<{ records: AuditRecord[]; nextCursor: string | null }>
}

/** Options of createAuditLog(). */
export interface AuditLogOptions {
  redis?: Redis | Cluster
  streamKey: string
  maxLen: number
  /** Stream of denied calls. @default `${streamKey}:denied` */
  deniedStreamKey?: string
  /** @default 1000 */
  deniedMaxLen?: number
  logger: Pick<Logger, 'info' | 'error'>
  timeoutMs: number
}

function matches(
  record: AuditRecord,
  query: { action?: string; outcome?: AuditOutcome; who?: string },
): boolean {
  return (
    (!query.action || record.action === query.action) &&
    (!query.outcome || record.outcome === query.outcome) &&
    (!query.who || record.who === query.who)
  )
}

const PAGE_SCAN = 500
const MAX_SCANNED_PAGES = 10

type ListQuery = Parameters<AuditLog['list']>[0]

/**
 * The audit trail: two capped Redis streams (`XADD … MAXLEN ~ maxLen`), one for actions and one
 * for denied calls, when a client is given, else two in-memory rings of the same sizes. Every
 * record is also logged through pino, with control characters already escaped so a pattern cannot
 * forge a log line.
 */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { redis, logger, timeoutMs } = options
  const streams: Record<AuditSource, { key: string; maxLen: number; memory: AuditRecord[] }> = {
    actions: { key: options.streamKey, maxLen: options.maxLen, memory: [] },
    denied: {
      key: options.deniedStreamKey ?? `${options.streamKey}:denied`,
      maxLen: options.deniedMaxLen ?? 1000,
      memory: [],
    },
  }
  let sequence = 0
  let lastAt = 0

  const ready = () => {
    // ioredis queues commands while disconnected; a closed client must fail now, not later.
    if (redis && redis.status !== 'ready') throw new Error(`redis client is ${redis.status}`)
  }

  const log = (record: AuditRecord) => {
    const line = { ...record, reason: record.reason === undefined ? undefined : escapeControl(record.reason) }
    logger.info({ audit: line }, `cachet admin ${record.action} ${record.outcome}`)
  }

  const readMemory = (source: AuditSource, query: ListQuery, cursor?: Position): SourcePage<AuditRecord> => {
    const memory = streams[source].memory
    const end = endAfter(cursor, source)
    const records: SourcePage<AuditRecord>['records'] = []
    let index = memory.length - 1
    const before = (id: string) =>
      end === '+' || (end.startsWith('(') ? compareIds(id, end.slice(1)) < 0 : compareIds(id, end) <= 0)
    while (index >= 0 && !before(memory[index]!.id!)) index--
    for (; index >= 0 && records.length < query.limit; index--) {
      const record = memory[index]!
      if (matches(record, query)) records.push({ record, position: { id: record.id!, source } })
    }
    return { records, frontier: index >= 0 ? (records.at(-1)?.position ?? null) : null }
  }

  const readStream = async (
    client: Redis | Cluster,
    source: AuditSource,
    query: ListQuery,
    cursor?: Position,
  ): Promise<SourcePage<AuditRecord>> => {
    const records: SourcePage<AuditRecord>['records'] = []
    let end = endAfter(cursor, source)
    let lastSeen: string | undefined
    for (let page = 0; page < MAX_SCANNED_PAGES; page++) {
      const entries = await withDeadline(
        client.xrevrange(streams[source].key, end, '-', 'COUNT', PAGE_SCAN),
        timeoutMs,
        'audit XREVRANGE',
      )
      for (const [id, fields] of entries) {
        lastSeen = id
        const record = parseRecord(id, fields)
        if (record && matches(record, query)) records.push({ record, position: { id, source } })
        if (records.length >= query.limit) return { records, frontier: { id, source } }
      }
      if (entries.length < PAGE_SCAN) return { records, frontier: null }
      end = `(${lastSeen}`
    }
    return { records, frontier: lastSeen ? { id: lastSeen, source } : null }
  }

  return {
    sink: redis ? 'redis' : 'memory',

    async write(record) {
      const stream = streams[record.outcome === 'denied' ? 'denied' : 'actions']
      if (redis) {
        try {
          ready()
          await withDeadline(
            redis.xadd(
              stream.key,
              'MAXLEN',
              '~',
              String(stream.maxLen),
              '*',
              'record',
              JSON.stringify(record),
            ),
            timeoutMs,
            'audit XADD',
          )
        } catch (error) {
          logger.error({ audit: record, err: error }, 'cachet admin audit record could not be written')
          throw new AuditUnavailableError(error)
        }
      } else {
        // Ids grow even if the clock steps back, so that both rings merge in order.
        lastAt = Math.max(lastAt, record.at)
        stream.memory.push({ ...record, id: `${lastAt}-${sequence++}` })
        if (stream.memory.length > stream.maxLen)
          stream.memory.splice(0, stream.memory.length - stream.maxLen)
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
      const cursor = parseCursor(query.cursor)
      const sources: AuditSource[] = ['actions', 'denied']
      const pages = await Promise.all(
        sources.map((source) =>
          redis ? readStream(redis, source, query, cursor) : readMemory(source, query, cursor),
        ),
      )
      return mergePages(query.limit, pages)
    },
  }
}

function compareIds(a: string, b: string): number {
  return compare({ id: a, source: 'actions' }, { id: b, source: 'actions' })
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
