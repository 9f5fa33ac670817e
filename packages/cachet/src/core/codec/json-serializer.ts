import { CorruptEntryError, errorMessage, SerializationError } from '../errors.js'
import { isPollutingKey, parseSafeJson, stripPollution } from './safe-json.js'

/** Header serializer id of plain JSON: read back with a bare JSON.parse. */
export const JSON_PLAIN_ID = 0
/** Header serializer id of tagged JSON: Date, BigInt, Map, Set, undefined in arrays, NaN and ±Infinity survive. */
export const JSON_TAGGED_ID = 1

/** The key that marks a tagged node: `{ "$t": "D", "v": 0 }` is a Date. */
const TAG = '$t'
const UNDEFINED_NODE = { [TAG]: 'U' }
const BIGINT_TEXT = /^-?\d{1,10000}$/

/** A value serialized as JSON, with the header id that says how to read it back. */
export interface JsonPayload {
  id: typeof JSON_PLAIN_ID | typeof JSON_TAGGED_ID
  bytes: Buffer
}

/**
 * Serializes a value as JSON. Values made only of JSON types are written as plain JSON (id 0) so the hot
 * read path is a bare JSON.parse; anything else is written in the tagged form (id 1).
 * Throws SerializationError naming the path of a function, a symbol or a cycle.
 */
export function serializeJson(value: unknown): JsonPayload {
  const tagged = isPlainJson(value, 0) ? false : needsTags(value)
  let text: string
  try {
    text = tagged ? JSON.stringify(value, replaceTyped) : JSON.stringify(value)
  } catch (error) {
    throw new SerializationError(`value cannot be serialized as JSON: ${errorMessage(error)}`, {
      cause: error,
    })
  }
  return { id: tagged ? JSON_TAGGED_ID : JSON_PLAIN_ID, bytes: Buffer.from(text, 'utf8') }
}

/** Reads the text of a payload written by serializeJson. Throws on bad JSON or a bad tag. */
export function deserializeJson(text: string, id: number): unknown {
  if (id === JSON_PLAIN_ID) return parseSafeJson(text)
  return revive(JSON.parse(text))
}

/** Deepest nesting the fast check walks before leaving the value to the thorough one. */
const FAST_DEPTH = 64

/**
 * The fast check of the common case: only strings, finite numbers, booleans, null, arrays and plain
 * objects. No path or cycle bookkeeping: anything else (or a deep value) goes to needsTags, which
 * says precisely what it found.
 */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    case 'object':
      break
    default:
      return false
  }
  if (value === null) return true
  if (depth > FAST_DEPTH) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (value[i] === undefined || !isPlainJson(value[i], depth + 1)) return false
    }
    return true
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key]
    // JSON drops undefined properties, as the plain form does.
    if (item !== undefined && !isPlainJson(item, depth + 1)) return false
  }
  return true
}

/** Walks the value once: true when it holds something plain JSON would lose; throws on what JSON cannot hold. */
function needsTags(root: unknown): boolean {
  if (root === undefined) return true
  const ancestors = new Set<object>()
  const path: Array<string | number> = []
  let tagged = false

  const fail = (what: string): never => {
    throw new SerializationError(`value contains ${what} at ${formatPath(path)}; it cannot be cached`)
  }
  const visit = (value: unknown, inArray: boolean): void => {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return
      case 'number':
        if (!Number.isFinite(value)) tagged = true
        return
      case 'bigint':
        tagged = true
        return
      case 'undefined':
        // JSON drops undefined object properties (harmless) but turns undefined array items into null.
        if (inArray) tagged = true
        return
      case 'function':
        fail('a function')
        return
      case 'symbol':
        fail('a symbol')
        return
    }
    if (value === null) return
    const object = value as object
    if (object instanceof Date) {
      tagged = true
      return
    }
    if (ancestors.has(object)) fail('a circular reference')
    ancestors.add(object)
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        path.push(i)
        visit(object[i], true)
        path.pop()
      }
    } else if (object instanceof Map || object instanceof Set) {
      tagged = true
      // Map entries and Set items are written as arrays, so undefined there is an array item.
      for (const item of object instanceof Map ? object.entries() : object.values()) {
        path.push(object instanceof Map ? `<entry>` : `<item>`)
        visit(item, true)
        path.pop()
      }
    } else if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
      visit((object as { toJSON(): unknown }).toJSON(), false)
    } else {
      for (const key of Object.keys(object)) {
        path.push(key)
        visit((object as Record<string, unknown>)[key], false)
        path.pop()
      }
    }
    ancestors.delete(object)
  }

  try {
    visit(root, false)
  } catch (error) {
    if (error instanceof SerializationError) throw error
    throw new SerializationError(`value cannot be serialized: ${errorMessage(error)}`, { cause: error })
  }
  return tagged
}

/** JSON.stringify replacer of the tagged form. `this[key]` is the raw value, before Date#toJSON ran. */
function replaceTyped(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key]
  if (raw instanceof Date) {
    const time = raw.getTime()
    return { [TAG]: 'D', v: Number.isNaN(time) ? null : time }
  }
  switch (typeof value) {
    case 'bigint':
      return { [TAG]: 'B', v: value.toString() }
    case 'number':
      return Number.isFinite(value) ? value : { [TAG]: 'N', v: String(value) }
    case 'undefined':
      // Top level (holder key '') or an array item; undefined object properties are dropped as in JSON.
      return key === '' || Array.isArray(this) ? UNDEFINED_NODE : undefined
  }
  if (value instanceof Map) return { [TAG]: 'M', v: [...value] }
  if (value instanceof Set) return { [TAG]: 'S', v: [...value] }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, TAG)) {
    // A user object that has a '$t' key of its own is escaped, so it is never read back as a tag.
    return { [TAG]: 'O', v: Object.entries(value) }
  }
  return value
}

/** Rebuilds the tagged form top-down, in place; drops prototype-polluting keys on the way. */
function revive(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) node[i] = revive(node[i])
    return node
  }
  const object = node as Record<string, unknown>
  if (Object.hasOwn(object, TAG)) return reviveTag(object[TAG], object.v)
  stripPollution(object)
  for (const key of Object.keys(object)) object[key] = revive(object[key])
  return object
}

function reviveTag(tag: unknown, v: unknown): unknown {
  switch (tag) {
    case 'U':
      return undefined
    case 'D':
      if (v === null || typeof v === 'number') return new Date(v ?? Number.NaN)
      break
    case 'B':
      // Length-bounded: BigInt() of a megabyte of digits is slow, and the text comes from Redis.
      if (typeof v === 'string' && BIGINT_TEXT.test(v)) return BigInt(v)
      break
    case 'N':
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v)
      break
    case 'M':
      if (Array.isArray(v)) return new Map(v.map((pair) => revivePair(pair)))
      break
    case 'S':
      if (Array.isArray(v)) return new Set(v.map(revive))
      break
    case 'O':
      if (Array.isArray(v)) {
        const object: Record<string, unknown> = {}
        for (const pair of v) {
          const [key, value] = revivePair(pair)
          if (typeof key !== 'string') throw new CorruptEntryError('tagged JSON: object key is not a string')
          // Checked before the assignment: `object['__proto__'] = value` would set the prototype.
          if (!isPollutingKey(key, value)) object[key] = value
        }
        return object
      }
      break
  }
  throw new CorruptEntryError(`tagged JSON: bad node ${JSON.stringify(String(tag)).slice(0, 40)}`)
}

function revivePair(pair: unknown): [unknown, unknown] {
  if (!Array.isArray(pair) || pair.length !== 2) throw new CorruptEntryError('tagged JSON: bad entry pair')
  return [revive(pair[0]), revive(pair[1])]
}

function formatPath(path: ReadonlyArray<string | number>): string {
  let text = '$'
  for (const segment of path) text += typeof segment === 'number' ? `[${segment}]` : `.${segment}`
  return text
}
