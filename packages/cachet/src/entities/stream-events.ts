import type { Cluster, Redis } from 'ioredis'
import { deserializeJson, JSON_TAGGED_ID, serializeJson } from '../core/codec/json-serializer.js'
import { parseSafeJson } from '../core/codec/safe-json.js'
import { decodeValue } from './hash-codec.js'
import { fieldRecord } from './stream-group.js'

/** One entity change as carried on a stream (e.g. user.profile.created/updated/deleted). */
export interface EntityEvent {
  /** e.g. 'user.profile.updated'. */
  type: string
  /** The entity id. */
  id: string
  /** The entity after the change (absent for deletions). */
  payload?: unknown
  /** Version of the entity after the change (e.g. updatedAt in ms); orders out-of-order deliveries. */
  version?: number
}

/** Options of publishEntityEvent(). */
export interface PublishOptions {
  /**
   * Approximate cap on the stream length (`XADD … MAXLEN ~ n`); false = never trim. Trimming can drop
   * entries a slow consumer group has not read yet; the consumer detects it (Redis 7
   * max-deleted-entry-id past its last delivered id) and resyncs by flushing its namespace, so the loss
   * is never silent, but it costs a cold cache. Size it for the longest consumer outage you tolerate.
   * @default 100_000
   */
  maxLen?: number | false
}

/**
 * Appends an entity event for consumers (XADD with approximate trimming). Re-sending after a dropped
 * connection is harmless: consumers apply by version, so a duplicate is a no-op. Resolves the entry id.
 */
export async function publishEntityEvent(
  redis: Redis | Cluster,
  stream: string,
  event: EntityEvent,
  options: PublishOptions = {},
): Promise<string> {
  const maxLen = options.maxLen ?? 100_000
  const fields = ['type', event.type, 'id', event.id]
  if (event.version !== undefined) fields.push('version', String(event.version))
  if (event.payload !== undefined) {
    // The engine's JSON: a Date or a BigInt in the payload reaches the cache as one.
    const { id: format, bytes } = serializeJson(event.payload)
    fields.push('payload', bytes.toString('utf8'))
    if (format === JSON_TAGGED_ID) fields.push('payload-format', 'tagged')
  }
  const id =
    maxLen === false
      ? await redis.xadd(stream, '*', ...fields)
      : await redis.xadd(stream, 'MAXLEN', '~', maxLen, '*', ...fields)
  return id!
}

/**
 * Stream entry fields ([k, v, k, v…]) → event, or a reason why the entry is unusable (poison).
 * Reads cachet's own entries (`type`, `id`, `version`, `payload`) and the seed system's (`event`).
 */
export function parseEntityEvent(fields: readonly string[]): { event: EntityEvent } | { error: string } {
  const map = fieldRecord(fields)
  if (map.type === undefined && (map.event !== undefined || map.payload !== undefined))
    return parseSeedEvent(map)
  const { type, id } = map
  if (!type || !id) return { error: 'missing type or id' }
  const event: EntityEvent = { type, id }
  const { version } = map
  if (version !== undefined) {
    const parsed = Number(version)
    if (version === '' || !Number.isFinite(parsed)) return { error: `bad version "${version}"` }
    event.version = parsed
  }
  const { payload } = map
  if (payload !== undefined) {
    try {
      event.payload =
        map['payload-format'] === 'tagged' ? deserializeJson(payload, JSON_TAGGED_ID) : parseSafeJson(payload)
    } catch {
      return { error: 'payload is not JSON' }
    }
  }
  return { event }
}

// Names and ids stay text: `decodeValue('1e3')` would turn the id 1e3 into 1000.
const RAW_FIELDS = new Set(['event', 'userId', 'id'])

/**
 * The seed system's entries: `event` (`updated`, or `user.profile.updated`) and `userId` beside the
 * user's own fields (`fullName`, `updatedAt`…), either as entry fields (values read as hash fields
 * are: `"1736862000000"` is a number) or as one JSON object in `payload` (or in `event`), which may
 * leave `event` and `userId` as entry fields beside it.
 */
function parseSeedEvent(map: Record<string, string>): { event: EntityEvent } | { error: string } {
  const envelope = map.payload ?? map.event!
  let record: Record<string, unknown>
  if (envelope.trimStart().startsWith('{')) {
    let parsed: unknown
    try {
      parsed = parseSafeJson(envelope)
    } catch {
      return { error: 'payload is not JSON' }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { error: 'payload is not an object' }
    }
    record = { ...(parsed as Record<string, unknown>) }
    const name = map.event
    if (record.event === undefined && name !== undefined && name !== envelope) record.event = name
    record.userId ??= map.userId ?? map.id
  } else {
    record = {}
    for (const [name, text] of Object.entries(map))
      record[name] = RAW_FIELDS.has(name) ? text : decodeValue(text)
  }
  const { event: type, userId, version, ...payload } = record
  const id = userId ?? payload.id
  if (typeof type !== 'string' || type === '' || (typeof id !== 'string' && typeof id !== 'number')) {
    return { error: 'missing event or userId' }
  }
  const event: EntityEvent = { type, id: String(id), payload: { ...payload, id: String(id) } }
  if (version !== undefined) {
    if (typeof version !== 'number' || !Number.isFinite(version)) return { error: `bad version "${version}"` }
    event.version = version
  }
  return { event }
}
