import { deserializeJson, JSON_TAGGED_ID, serializeJson } from '../core/codec/json-serializer.js'
import { parseSafeJson } from '../core/codec/safe-json.js'
import { InvalidKeyError, SerializationError } from '../core/errors.js'

/** Reserved hash fields: the version, the tombstone mark, and the names of the tagged fields. */
export const VERSION_FIELD = '__v'
export const DELETED_FIELD = '__del'
export const TAGGED_FIELD = '__t'

// A text can only be JSON if its first non-blank character starts a JSON value.
const MAYBE_JSON = /^[\s]*["{[\-0-9tfn]/

/**
 * Entity → flat [field, value, …] for HSET, through the engine's JSON serializer, so a hit returns
 * what the miss returned: numbers, booleans, null, arrays, nested objects, and (in its tagged form)
 * Date, BigInt, Map and Set. The names of tagged fields go in `__t`. A string that is not JSON text is
 * stored as is (`fullName: Jean Dupont`, as the seed system writes it), so both can read the other's
 * hashes. Fields starting with `__` are reserved for cachet.
 */
export function encodeFields(entity: object, only?: readonly string[]): string[] {
  const record = entity as Record<string, unknown>
  const names = only ?? Object.keys(record)
  const out: string[] = []
  const tagged: string[] = []
  for (const name of names) {
    const value = record[name]
    if (value === undefined) continue
    if (name.startsWith('__')) throw new InvalidKeyError(`Entity field "${name}" is reserved`, { key: name })
    if (typeof value === 'string' && !isJsonText(value)) {
      out.push(name, value)
      continue
    }
    let payload: ReturnType<typeof serializeJson>
    try {
      payload = serializeJson(value)
    } catch (error) {
      throw new SerializationError(`Entity field "${name}" cannot be serialized`, { key: name, cause: error })
    }
    if (payload.id === JSON_TAGGED_ID) tagged.push(name)
    out.push(name, payload.bytes.toString('utf8'))
  }
  if (tagged.length > 0) out.push(TAGGED_FIELD, JSON.stringify(tagged))
  return out
}

function isJsonText(text: string): boolean {
  if (!MAYBE_JSON.test(text)) return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * One stored field value → its JavaScript value. A value that is not JSON (a plain string written by
 * the seed system, e.g. `fullName: Jean Dupont`) is returned as that string, so existing hashes stay
 * readable without a flush. A tagged field that does not parse throws CorruptEntryError.
 */
export function decodeValue(text: string, tagged = false): unknown {
  if (tagged) return deserializeJson(text, JSON_TAGGED_ID)
  try {
    return parseSafeJson(text)
  } catch {
    return text
  }
}

/** The names listed in `__t` (none for a hash the seed system wrote, or a bad list). */
export function taggedFields(hash: Record<string, string | undefined>): Set<string> {
  const list = hash[TAGGED_FIELD]
  if (list === undefined) return new Set()
  try {
    const names: unknown = JSON.parse(list)
    return new Set(Array.isArray(names) ? names.filter((name) => typeof name === 'string') : [])
  } catch {
    return new Set()
  }
}

/** HGETALL reply → entity object (reserved fields dropped). Throws CorruptEntryError on a bad tagged field. */
export function decodeFields(hash: Record<string, string>): Record<string, unknown> {
  const tagged = taggedFields(hash)
  const out: Record<string, unknown> = {}
  for (const [name, text] of Object.entries(hash)) {
    if (name.startsWith('__')) continue
    out[name] = decodeValue(text, tagged.has(name))
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
