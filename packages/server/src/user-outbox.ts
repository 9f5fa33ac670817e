import type { EntityEvent } from 'cachet/entities'
import type { Logger } from 'pino'
import type { Database } from './database.js'

/** Events written with the change they announce, in the same transaction, until Redis takes them. */
export const OUTBOX_TABLE = 'user_events_outbox'
const DRAIN_EVERY_MS = 1_000
const DRAIN_BATCH = 100

/** Creates the outbox table (idempotent). */
export async function createOutboxTable(db: Database): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS ${OUTBOX_TABLE} (
    id bigserial PRIMARY KEY,
    event jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`)
}

/** Inserts an event inside the caller's transaction; resolves its outbox id. */
export async function enqueueEvent(query: Database['query'], event: EntityEvent): Promise<string> {
  const [row] = await query<{ id: string }>(
    `INSERT INTO ${OUTBOX_TABLE} (event) VALUES ($1::jsonb) RETURNING id::text AS id`,
    [JSON.stringify(event)],
  )
  return row!.id
}

/** Delivers outbox rows to the stream: at once after a change, and in the background after a failure. */
export interface UserOutbox {
  /** Publishes one row and deletes it; resolves the stream entry id, or undefined if it stays queued. */
  deliver(id: string, event: EntityEvent): Promise<string | undefined>
  /** Publishes queued rows in order until one fails; resolves how many were delivered. */
  drain(): Promise<number>
  /** Rows still waiting for Redis. */
  pending(): Promise<number>
  /** Stops the background drain. */
  stop(): Promise<void>
}

/**
 * The transactional outbox of user events: a change and its event commit together, so an event
 * cannot be lost when Redis is down at that moment. Delivery is at-least-once (a row published but
 * not yet deleted when the process dies is published again), which the stream consumer absorbs:
 * it applies by version, so a replay is a no-op.
 */
export function openUserOutbox(
  db: Database,
  publish: (event: EntityEvent) => Promise<string>,
  logger: Logger,
): UserOutbox {
  // Rows being delivered by this process, so deliver() and the drain never publish one twice here.
  const inFlight = new Set<string>()
  let draining: Promise<number> | undefined
  let stopped = false

  const deliver = async (id: string, event: EntityEvent): Promise<string | undefined> => {
    if (inFlight.has(id)) return undefined
    inFlight.add(id)
    try {
      const entryId = await publish(event)
      await db.query(`DELETE FROM ${OUTBOX_TABLE} WHERE id = $1::bigint`, [id])
      return entryId
    } catch (error) {
      logger.debug({ err: error, outboxId: id }, 'user event kept in the outbox')
      return undefined
    } finally {
      inFlight.delete(id)
    }
  }

  const drainOnce = async (): Promise<number> => {
    const rows = await db.query<{ id: string; event: EntityEvent }>(
      `SELECT id::text AS id, event FROM ${OUTBOX_TABLE} ORDER BY id LIMIT ${DRAIN_BATCH}`,
    )
    let delivered = 0
    for (const row of rows) {
      if (stopped || inFlight.has(row.id)) continue
      if ((await deliver(row.id, row.event)) === undefined) break
      delivered++
    }
    if (delivered > 0) logger.info({ delivered }, 'queued user events delivered from the outbox')
    return delivered
  }

  const drain = (): Promise<number> => {
    draining ??= drainOnce().finally(() => {
      draining = undefined
    })
    return draining
  }

  const timer = setInterval(() => {
    drain().catch((error: Error) => logger.debug({ err: error }, 'outbox drain failed'))
  }, DRAIN_EVERY_MS)
  timer.unref()

  return {
    deliver,
    drain,
    async pending() {
      const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${OUTBOX_TABLE}`)
      return row?.n ?? 0
    },
    async stop() {
      stopped = true
      clearInterval(timer)
      await draining?.catch(() => {})
    },
  }
}
