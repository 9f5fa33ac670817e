import { parseSafeJson } from '../core/codec/safe-json.js'
import { InvalidKeyError, SerializationError } from '../core/errors.js'

/** Reserved hash fields: the version, and the tombstone mark. */
export const VERSION_FIELD = '__v'
export const DELETED_FIELD = '__del'

/**
 * Entity → flat [field, value, …] for HSET. Each value is JSON, so numbers, booleans, null, arrays and
 * nested objects come back with their type (a schema can revive dates). Fields starting with `__` are
 * reserved for cachet.
 */
export function encodeFields(entity: object, only?: readonly string[]): string[] {
  const record = entity as Record<string, unknown>
  const names = only ?? Object.keys(record)
  const out: string[] = []
  for (const name of names) {
    const value = record[name]
    if (value === undefined) continue
    if (name.startsWith('__')) throw new InvalidKeyError(`Entity field "${name}" is reserved`, { key: name })
    let text: string | undefined
    try {
      text = JSON.stringify(value)
    } catch (error) {
      throw new SerializationError(`Entity field "${name}" cannot be serialized`, { key: name, cause: error })
    }
    if (text === undefined) throw new SerializationError(`Entity field "${name}" is not JSON`, { key: name })
    out.push(name, text)
  }
  return out
}

/**
 * One stored field value → its JavaScript value. A value that is not JSON (a plain string written by
 * the `UserCache` / stream consumer cachet replaces, e.g. `fullName: Jean Dupont`) is returned as that
 * string, so existing hashes stay readable without a flush.
 */
export function decodeValue(text: string): unknown {
  try {
    return parseSafeJson(text)
  } catch {
    return text
  }
}

/** HGETALL reply → entity object (reserved fields dropped). */
export function decodeFields(hash: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, text] of Object.entries(hash)) {
    if (name.startsWith('__')) continue
    out[name] = decodeValue(text)
  }
  return out
}

/** Default version of an entity: its `updatedAt` (ms number, numeric string, ISO string or Date). */
export function defaultVersionOf(entity: unknown): number | undefined {
  const value = (entity as { updatedAt?: unknown } | null)?.updatedAt
  if (value instanceof Date) return value.getTime()
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'string' && value !== '') {
    const asNumber = Number(value)
    if (Number.isFinite(asNumber)) return asNumber
    const parsed = Date.parse(value)
    if (Number.isFinite(parsed)) return parsed
  }
  return undefined
}
