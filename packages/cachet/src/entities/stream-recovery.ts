import type { Redis } from 'ioredis'

/** A stream entry as ioredis returns it: [id, [field, value, …]]. */
export type StreamEntry = [id: string, fields: string[]]

/** Where a consumer's recovery works. */
export interface RecoveryTarget {
  client: Redis
  stream: string
  group: string
  consumer: string
  deadLetter: string
  minIdleMs: number
  maxDeliveries: number
}

const PAGE = 100
const MAX_PAGES = 10
const DEAD_LETTER_MAXLEN = 100_000

/**
 * Copies an entry to the dead-letter stream with why and how often it failed, then acks it so it stops
 * blocking the group (docs/reliability.md X4). Original fields come first, so a replay tool can re-XADD them.
 */
export async function moveToDeadLetter(
  target: RecoveryTarget,
  entry: StreamEntry,
  reason: string,
  deliveries: number,
): Promise<void> {
  const [id, fields] = entry
  await target.client.xadd(
    target.deadLetter,
    'MAXLEN',
    '~',
    DEAD_LETTER_MAXLEN,
    '*',
    ...fields,
    'dlq-source-id',
    id,
    'dlq-group',
    target.group,
    'dlq-reason',
    reason,
    'dlq-deliveries',
    String(deliveries),
  )
  await target.client.xack(target.stream, target.group, id)
}

/**
 * Dead-letters the idle pending entries already delivered `maxDeliveries` times (delivery counts from
 * XPENDING). XCLAIM with the same min-idle makes one consumer win when several look at once.
 * Resolves the entries moved.
 */
export async function deadLetterExhausted(
  target: RecoveryTarget,
): Promise<Array<{ id: string; deliveries: number }>> {
  const { client, stream, group, consumer, minIdleMs, maxDeliveries } = target
  const pending = (await client.call('XPENDING', stream, group, 'IDLE', minIdleMs, '-', '+', PAGE)) as Array<
    [string, string, number, number]
  >
  const moved: Array<{ id: string; deliveries: number }> = []
  for (const [id, , , deliveries] of pending) {
    if (Number(deliveries) < maxDeliveries) continue
    const claimed = (await client.xclaim(stream, group, consumer, minIdleMs, id)) as Array<StreamEntry | null>
    const entry = claimed[0]
    if (!entry) {
      // Trimmed while pending: nothing to keep, only the PEL slot to free.
      await client.xack(stream, group, id)
      continue
    }
    await moveToDeadLetter(target, entry, 'max-deliveries', Number(deliveries))
    moved.push({ id, deliveries: Number(deliveries) })
  }
  return moved
}

/**
 * XAUTOCLAIM: takes over entries idle longer than min-idle (a crashed or stuck consumer's, or our own
 * failed ones) so they are processed again. Also returns the ids Redis 7 reports as deleted while
 * pending: those deliveries are lost and the caller must resync.
 */
export async function claimIdle(
  target: RecoveryTarget,
): Promise<{ entries: StreamEntry[]; deleted: string[] }> {
  const { client, stream, group, consumer, minIdleMs } = target
  const entries: StreamEntry[] = []
  const deleted: string[] = []
  let cursor = '0-0'
  for (let page = 0; page < MAX_PAGES; page++) {
    const reply = (await client.call(
      'XAUTOCLAIM',
      stream,
      group,
      consumer,
      minIdleMs,
      cursor,
      'COUNT',
      PAGE,
    )) as [string, Array<StreamEntry | null>, string[]?]
    cursor = reply[0]
    for (const entry of reply[1]) if (entry) entries.push(entry)
    deleted.push(...(reply[2] ?? []))
    if (cursor === '0-0') break
  }
  return { entries, deleted }
}
