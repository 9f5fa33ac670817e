import { deserializeJson, serializeJson } from '../core/codec/json-serializer.js'
import { fieldRecord } from '../entities/stream-group.js'
import type { StreamEntry } from '../entities/stream-recovery.js'

/** One write read back from the journal. */
export interface JournalWrite {
  /** The stream entry id: unique, and ordered as Redis appended the writes. */
  id: string
  key: string
  value: unknown
}

/** The fields of a journal entry: the key, the serializer id and the value (tagged JSON keeps Dates, BigInts…). */
export function journalFields(key: string, value: unknown): string[] {
  const payload = serializeJson(value)
  return ['k', key, 's', String(payload.id), 'v', payload.bytes.toString('utf8')]
}

/** Decodes an entry; a string saying what is wrong when it cannot be (it is then dead-lettered). */
export function readJournalEntry([id, fields]: StreamEntry): JournalWrite | string {
  const { k: key, v: text, s } = fieldRecord(fields)
  const serializer = Number(s)
  if (key === undefined || text === undefined || !(serializer === 0 || serializer === 1))
    return 'not a write-behind entry (fields k, s, v)'
  try {
    return { id, key, value: deserializeJson(text, serializer) }
  } catch (error) {
    return `unreadable value: ${(error as Error).message}`
  }
}

/**
 * A stream id as one integer, ordered as the ids are: milliseconds × 1,000,000 + sequence. Fits a
 * PostgreSQL bigint; store it with the row and apply a write only over a smaller one (docs/write-behind.md).
 */
export function idVersion(id: string): bigint {
  const dash = id.indexOf('-')
  return BigInt(id.slice(0, dash)) * 1_000_000n + BigInt(id.slice(dash + 1))
}

/** The time a stream id was appended, in epoch ms. */
export function idTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')))
}
