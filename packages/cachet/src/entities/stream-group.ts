import type { Redis } from 'ioredis'
import type { StreamEntry } from './stream-recovery.js'

/**
 * What every consumer of a Redis stream through a consumer group shares (the entity stream consumer,
 * the SQL invalidation stream, the write-behind flusher): creating the group, reading it, and reading
 * Redis' flat [field, value, …] replies.
 */

/** Creates the consumer group (and the stream) unless it exists; `startId` is where a new group starts. */
export async function createGroup(
  client: Redis,
  stream: string,
  group: string,
  startId: string,
): Promise<void> {
  try {
    await client.xgroup('CREATE', stream, group, startId, 'MKSTREAM')
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error
  }
}

/** Which group, consumer and stream a read is for. */
export interface GroupReadTarget {
  stream: string
  group: string
  consumer: string
}

/** One XREADGROUP of at most `count` entries, blocking up to `blockMs`, from `id` ('>' = never delivered). */
export async function readGroup(
  reader: Redis,
  target: GroupReadTarget,
  count: number,
  blockMs: number,
  id: string,
): Promise<StreamEntry[]> {
  const reply = (await reader.xreadgroup(
    'GROUP',
    target.group,
    target.consumer,
    'COUNT',
    count,
    'BLOCK',
    blockMs,
    'STREAMS',
    target.stream,
    id,
  )) as Array<[string, StreamEntry[]]> | null
  return reply?.[0]?.[1] ?? []
}

/**
 * Reads this consumer's own pending entries first (a restart under the same name), then new ones:
 * each next() is one read, from where the last one ended.
 */
export class PendingFirstReader {
  #id = '0'

  constructor(
    private readonly target: GroupReadTarget,
    private readonly count: number,
    private readonly blockMs: number,
  ) {}

  async next(reader: Redis): Promise<StreamEntry[]> {
    const entries = await readGroup(reader, this.target, this.count, this.blockMs, this.#id)
    if (this.#id !== '>') this.#id = entries.length > 0 ? entries[entries.length - 1]![0] : '>'
    return entries
  }

  /** Starts over from the pending entries (the group was re-created). */
  restart(): void {
    this.#id = '0'
  }
}

/**
 * A flat reply ([field, value, field, value…]: an entry's fields, an XINFO reply) as an object.
 * Built with Object.fromEntries, so a field named `__proto__` is an ordinary property.
 */
export function fieldRecord<V>(list: readonly V[]): Record<string, V> {
  const pairs: Array<[string, V]> = []
  for (let i = 0; i + 1 < list.length; i += 2) pairs.push([String(list[i]), list[i + 1]!])
  return Object.fromEntries(pairs)
}

/** Compares two stream ids ('ms-seq'): negative, 0 or positive. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(BigInt)
  const [bMs, bSeq] = b.split('-').map(BigInt)
  if (aMs !== bMs) return aMs! < bMs! ? -1 : 1
  if (aSeq !== bSeq) return (aSeq ?? 0n) < (bSeq ?? 0n) ? -1 : 1
  return 0
}
