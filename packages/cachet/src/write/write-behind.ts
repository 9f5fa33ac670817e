import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { toMs } from '../core/duration.js'
import { errorMessage, InvalidOptionError, SerializationError, UndefinedValueError } from '../core/errors.js'
import { validateKey } from '../core/keys.js'
import { withDeadline } from '../core/timeouts.js'
import { WriteBehindStoppedError } from './errors.js'
import { createJournalGroup, Flusher } from './flusher.js'
import { idTime, journalFields } from './journal.js'
import { assertDurable, type JournalDurability, readDurability } from './journal-check.js'
import type { WriteBehind, WriteBehindHealth, WriteBehindOptions } from './types.js'
import { writeThrough } from './write-through.js'

/** A backlog older than this makes health() degraded. */
const OLD_BACKLOG_MS = 60_000
/** health() answers within this, journal reachable or not. */
const HEALTH_DEADLINE_MS = 2_000

/**
 * Write-behind that loses nothing acknowledged (docs/write-behind.md): write() appends to a Redis
 * Stream on a durable Redis and updates the cache; the flusher moves the journal to the database in
 * batches, at least once. Refuses to start (JournalNotDurableError) on a journal Redis that evicts or
 * keeps no append-only file.
 */
export async function createWriteBehind<V>(options: WriteBehindOptions<V>): Promise<WriteBehind<V>> {
  const { cache, journal, flush, merge } = options
  if (!cache || !journal || typeof flush !== 'function')
    throw new InvalidOptionError('createWriteBehind needs cache, journal (an ioredis client) and flush')
  const stream = options.stream ?? 'cachet:write-behind'
  const group = options.group ?? 'flushers'
  const batchSize = options.batchSize ?? 500
  const maxAttempts = options.maxAttempts ?? 5
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InvalidOptionError(`batchSize must be an integer ≥ 1, got ${batchSize}`)
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new InvalidOptionError(`maxAttempts must be an integer ≥ 1, got ${maxAttempts}`)

  assertDurable(await readDurability(journal), options.requireFsyncAlways)
  await createJournalGroup(journal, stream, group)

  const flusher =
    options.flusher === false
      ? undefined
      : new Flusher<V>({
          client: journal,
          stream,
          group,
          consumer: options.consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
          batchSize,
          intervalMs: toMs(options.interval ?? '1s', 'interval'),
          merge,
          maxAttempts,
          backoffMinMs: toMs(options.backoff?.min ?? '100ms', 'backoff.min'),
          backoffMaxMs: toMs(options.backoff?.max ?? '10s', 'backoff.max'),
          claimIdleMs: toMs(options.claimIdle ?? '30s', 'claimIdle'),
          flush,
          // A reader that missed the cache while the write was only journaled cached the database's older
          // value: dropping the keys once the database has the write bounds that to one flush.
          afterCommit: (keys) => cache.deleteMany(keys),
        })
  flusher?.start()
  const drainTimeoutMs = toMs(options.drainTimeout ?? '30s', 'drainTimeout')
  const writing = new Set<Promise<unknown>>()
  let stopped = false

  const maxValueBytes = options.maxValueBytes ?? 1024 * 1024
  const append = async (key: string, value: V): Promise<string> => {
    const fields = journalFields(key, value)
    const bytes = Buffer.byteLength(fields[fields.length - 1]!)
    if (bytes > maxValueBytes)
      throw new SerializationError(
        `write('${key}'): the value is ${bytes} bytes, over maxValueBytes (${maxValueBytes})`,
        {
          key,
        },
      )
    let id = ''
    await writeThrough(
      cache,
      key,
      async () => {
        // With merge the cache can only hold the merged value if it held the one before.
        const current = merge ? await cache.get<V>(key) : undefined
        id = (await journal.xadd(stream, '*', ...fields)) as string
        return merge ? (current === undefined ? undefined : merge(current, value)) : value
      },
      options.cacheOptions,
    )
    return id
  }

  return {
    write(key, value) {
      if (stopped) return Promise.reject(new WriteBehindStoppedError('write-behind was stopped', { key }))
      try {
        validateKey(key)
        if (value === undefined)
          throw new UndefinedValueError(`write('${key}') got undefined; write null instead`, { key })
      } catch (error) {
        return Promise.reject(error)
      }
      const done = append(key, value)
      writing.add(done)
      done.then(
        () => writing.delete(done),
        () => writing.delete(done),
      )
      return done
    },

    async health() {
      let read: [JournalDurability, number, Array<[string, string[]]>]
      try {
        read = await withDeadline(
          Promise.all([
            readDurability(journal),
            journal.xlen(stream),
            journal.xrange(stream, '-', '+', 'COUNT', 1),
          ]),
          HEALTH_DEADLINE_MS,
          'the journal Redis',
        )
      } catch (error) {
        return unreachable(error, flusher)
      }
      const [durability, backlog, oldest] = read
      const first = oldest[0]?.[0]
      const backlogAgeMs = first ? Math.max(0, Date.now() - idTime(first)) : 0
      const reasons: string[] = []
      if (durability.maxmemoryPolicy !== 'noeviction' || !durability.aof)
        reasons.push('journal Redis no longer durable (appendonly / maxmemory-policy changed)')
      if (backlogAgeMs > OLD_BACKLOG_MS)
        reasons.push(`oldest unflushed write is ${Math.round(backlogAgeMs / 1000)} s old`)
      if (flusher && flusher.parked > 0) reasons.push(`${flusher.parked} items failing, retried with backoff`)
      return {
        status:
          reasons.length === 0 ? 'healthy' : reasons[0]!.startsWith('journal') ? 'unhealthy' : 'degraded',
        backlog,
        backlogAgeMs,
        ...flusherFigures(flusher),
        journal: durability,
        reasons,
      }
    },

    async stop() {
      stopped = true
      await Promise.allSettled([...writing])
      await flusher?.stop(drainTimeoutMs)
    },
  }
}

/** What the flusher of this process counted (zeros in a writer-only process). */
function flusherFigures<V>(flusher: Flusher<V> | undefined) {
  const stats = flusher?.stats
  return {
    flushRate: flusher?.rate() ?? 0,
    flushed: stats?.flushed ?? 0,
    failures: stats?.failures ?? 0,
    deadLettered: stats?.deadLettered ?? 0,
    ...(stats?.lastError === undefined ? {} : { lastError: stats.lastError }),
  }
}

/** health() when the journal Redis does not answer: unhealthy, its figures unknown (NaN). */
function unreachable<V>(error: unknown, flusher: Flusher<V> | undefined): WriteBehindHealth {
  const message = errorMessage(error)
  return {
    status: 'unhealthy',
    backlog: Number.NaN,
    backlogAgeMs: Number.NaN,
    ...flusherFigures(flusher),
    journal: { aof: false, appendfsync: 'unknown', maxmemoryPolicy: 'unknown' },
    reasons: [`journal Redis unreachable: ${message}`],
  }
}
