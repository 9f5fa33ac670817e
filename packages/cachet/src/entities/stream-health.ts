import type { Redis } from 'ioredis'
import { compareStreamIds, fieldRecord } from './stream-group.js'

/** What XINFO STREAM / XINFO GROUPS (Redis 7) say about a stream and one group. */
export interface StreamInfo {
  /** Entries ever added: only a re-created (or restored-from-old-snapshot) stream sees it go down. */
  entriesAdded: number
  /** Highest id removed by XDEL ('0-0' when none; trimming does not move it). */
  maxDeletedId: string
  /** Id of the oldest entry still in the stream; undefined when empty. */
  firstEntryId?: string
  length: number
  group?: {
    lastDeliveredId: string
    /** Entries the group has read; null when Redis cannot tell. */
    entriesRead: number | null
    /** Entries not yet delivered to the group; null when Redis cannot tell (e.g. after trimming). */
    lag: number | null
    pending: number
  }
}

/** Why a consumer must resync: the cache may hold data the stream can no longer correct. */
export type ResetReason = 'stream-missing' | 'group-missing' | 'stream-rewound' | 'entries-trimmed'

/** Reads the stream and group state; undefined when the stream does not exist. */
export async function inspectStream(
  client: Redis,
  stream: string,
  group: string,
): Promise<StreamInfo | undefined> {
  let streamReply: unknown
  try {
    streamReply = await client.call('XINFO', 'STREAM', stream)
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return undefined
    throw error
  }
  const info = fieldRecord(streamReply as unknown[])
  const groups = ((await client.call('XINFO', 'GROUPS', stream)) as unknown[][]).map(fieldRecord)
  const mine = groups.find((entry) => entry.name === group)
  return {
    entriesAdded: Number(info['entries-added'] ?? 0),
    maxDeletedId: String(info['max-deleted-entry-id'] ?? '0-0'),
    firstEntryId: Array.isArray(info['first-entry']) ? String(info['first-entry'][0]) : undefined,
    length: Number(info.length ?? 0),
    group: mine && {
      lastDeliveredId: String(mine['last-delivered-id']),
      entriesRead: nullableNumber(mine['entries-read']),
      lag: nullableNumber(mine.lag),
      pending: Number(mine.pending ?? 0),
    },
  }
}

/** What a consumer remembers between two inspections. */
export interface HealthMemory {
  entriesAdded?: number
  /** The loss a resync already covered, so one trim or delete loss triggers one resync. */
  resyncedLoss?: string
}

/**
 * Decides whether the cache can still trust the stream (docs/reliability.md X2/X3): the stream or group
 * vanished (Redis restarted empty), the stream went back in time (restored from an older snapshot), or
 * entries the group never received were trimmed. Updates `memory`.
 */
export function judgeStream(info: StreamInfo | undefined, memory: HealthMemory): ResetReason | undefined {
  if (!info) return 'stream-missing'
  if (!info.group) return 'group-missing'
  const previous = memory.entriesAdded
  memory.entriesAdded = info.entriesAdded
  if (previous !== undefined && info.entriesAdded < previous) return 'stream-rewound'
  const loss = undeliveredLoss(info, info.group)
  if (loss !== undefined && loss !== memory.resyncedLoss) {
    memory.resyncedLoss = loss
    return 'entries-trimmed'
  }
  return undefined
}

/**
 * Names a loss of entries the group never received, or undefined. XDEL moves max-deleted-entry-id past
 * the group's last delivered id. Trimming does not, but it moves the first entry past it: entries were
 * lost when more were added after our last one (entries-added - entries-read) than remain (length).
 * When Redis cannot count (entries-read null) a moved first entry is taken as a loss: a needless flush
 * costs a cold cache, a missed one serves stale data.
 */
function undeliveredLoss(info: StreamInfo, group: NonNullable<StreamInfo['group']>): string | undefined {
  if (compareStreamIds(info.maxDeletedId, group.lastDeliveredId) > 0) return `deleted:${info.maxDeletedId}`
  const first = info.firstEntryId
  if (first === undefined || compareStreamIds(first, group.lastDeliveredId) <= 0) return undefined
  const unseen = group.entriesRead === null ? Number.POSITIVE_INFINITY : info.entriesAdded - group.entriesRead
  return unseen > info.length ? `trimmed:${first}` : undefined
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value)
}
