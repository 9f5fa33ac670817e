import { createHash } from 'node:crypto'
import { InvalidKeyError, SerializationError } from './errors.js'

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024
/** Longest tag, in UTF-8 bytes. */
export const MAX_TAG_BYTES = 256

const FORBIDDEN_CHARS = /[\0\r\n]/
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what patterns may not hold
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/
const GLOB_SPECIAL = /[*?[\]\\]/g

/** Throws InvalidKeyError unless `key` is a usable cache key: a non-empty string ≤ 1 KiB, no '__' prefix, no NUL/CR/LF. */
export function validateKey(key: unknown): asserts key is string {
  validateName(key, 'key', MAX_KEY_BYTES)
}

/** Throws InvalidKeyError unless `tag` is a usable tag: the key rules, at most 256 bytes. */
export function validateTag(tag: unknown): asserts tag is string {
  validateName(tag, 'tag', MAX_TAG_BYTES)
}

function validateName(name: unknown, what: 'key' | 'tag', maxBytes: number): asserts name is string {
  if (typeof name !== 'string') {
    throw new InvalidKeyError(`cache ${what} must be a string, got ${name === null ? 'null' : typeof name}`)
  }
  if (name.length === 0) throw new InvalidKeyError(`cache ${what} must not be empty`)
  // A UTF-16 unit is at most 3 UTF-8 bytes: short names skip the byte count.
  if (name.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(name, 'utf8')
    if (bytes > maxBytes) {
      throw new InvalidKeyError(`cache ${what} is ${bytes} bytes in UTF-8; the limit is ${maxBytes}`, {
        key: preview(name),
      })
    }
  }
  if (name.startsWith('__')) {
    throw new InvalidKeyError(
      `cache ${what} ${JSON.stringify(preview(name))} starts with '__', which is reserved`,
      {
        key: preview(name),
      },
    )
  }
  if (FORBIDDEN_CHARS.test(name)) {
    throw new InvalidKeyError(
      `cache ${what} ${JSON.stringify(preview(name))} contains a NUL, CR or LF character`,
      {
        key: preview(name),
      },
    )
  }
}

/** The first 100 characters of a name, for error messages. */
function preview(name: string): string {
  return name.length > 100 ? `${name.slice(0, 100)}…` : name
}

/** sha256 of the input as lowercase hex, truncated to `length` chars (1..64). */
export function hashKey(input: string, length = 32): string {
  if (!Number.isInteger(length) || length < 1 || length > 64) {
    throw new RangeError(`hashKey length must be an integer 1..64, got ${length}`)
  }
  return createHash('sha256').update(input, 'utf8').digest('hex').slice(0, length)
}

/**
 * A deterministic text for any argument list, to build keys from function arguments: object keys sorted,
 * Map entries and Set items sorted, and Date, BigInt, Map, Set, undefined, NaN and ±Infinity written
 * distinctly from strings. Throws SerializationError on functions, symbols and cycles.
 */
export function stableStringify(value: unknown): string {
  const ancestors = new Set<object>()
  const write = (node: unknown): string => {
    switch (typeof node) {
      case 'string':
        return JSON.stringify(node)
      case 'number':
        // String(-0) is '0', which is what JSON does too.
        return Number.isFinite(node) ? String(node) : `Number(${node})`
      case 'boolean':
        return String(node)
      case 'bigint':
        return `${node}n`
      case 'undefined':
        return 'undefined'
      case 'function':
      case 'symbol':
        throw new SerializationError(`cannot build a key from a ${typeof node}`)
    }
    if (node === null) return 'null'
    const object = node as object
    if (object instanceof Date)
      return `Date(${Number.isNaN(object.getTime()) ? 'invalid' : object.toISOString()})`
    if (ancestors.has(object)) throw new SerializationError('cannot build a key from a circular structure')
    ancestors.add(object)
    let text: string
    if (Array.isArray(object)) {
      text = `[${object.map(write).join(',')}]`
    } else if (object instanceof Map) {
      const entries = [...object].map(([k, v]) => `${write(k)}:${write(v)}`)
      text = `Map{${entries.sort().join(',')}}`
    } else if (object instanceof Set) {
      text = `Set[${[...object].map(write).sort().join(',')}]`
    } else if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
      text = write((object as { toJSON(): unknown }).toJSON())
    } else {
      const record = object as Record<string, unknown>
      const fields: string[] = []
      for (const key of Object.keys(record).sort()) {
        // As in JSON, an undefined property is the same as an absent one.
        if (record[key] !== undefined) fields.push(`${JSON.stringify(key)}:${write(record[key])}`)
      }
      text = `{${fields.join(',')}}`
    }
    ancestors.delete(object)
    return text
  }
  return write(value)
}

/** Backslash-escapes `* ? [ ] \` so a literal matches only itself in a Redis SCAN MATCH pattern. */
export function escapeGlob(literal: string): string {
  return literal.replace(GLOB_SPECIAL, '\\$&')
}

/** Bounds of validatePattern(). */
export interface PatternLimits {
  maxLength: number
  maxWildcards: number
}

/** The bounds the engine puts on every pattern it is given. */
export const PATTERN_LIMITS: Readonly<PatternLimits> = { maxLength: 256, maxWildcards: 8 }

/**
 * Throws InvalidKeyError unless a glob pattern is safe to hand to SCAN and to the L1 matcher:
 * non-empty, bounded length, few wildcards (older Redis servers backtrack on many '*'), no control
 * character (patterns end up in logs and the audit trail), not reserved ('__'), no dangling '\' or
 * unclosed '['. The one rule set for the engine, the admin API and patterns arriving on the bus.
 */
export function validatePattern(
  pattern: unknown,
  limits: Readonly<PatternLimits> = PATTERN_LIMITS,
): asserts pattern is string {
  if (typeof pattern !== 'string') {
    throw new InvalidKeyError(`pattern must be a string, got ${pattern === null ? 'null' : typeof pattern}`)
  }
  if (pattern.length === 0) throw new InvalidKeyError('pattern must not be empty')
  if (pattern.length > limits.maxLength) {
    throw new InvalidKeyError(`pattern is ${pattern.length} characters; the limit is ${limits.maxLength}`)
  }
  if (CONTROL_CHARS.test(pattern)) {
    throw new InvalidKeyError('pattern contains a control character (NUL, CR, LF, ESC…)')
  }
  if (pattern.startsWith('__')) {
    throw new InvalidKeyError(`pattern ${JSON.stringify(pattern)} starts with '__', which is reserved`)
  }
  let wildcards = 0
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]
    if (char === '\\') {
      if (i === pattern.length - 1)
        throw new InvalidKeyError(`pattern ${JSON.stringify(pattern)} ends with a lone '\\'`)
      i++
    } else if (char === '*' || char === '?') {
      wildcards++
    } else if (char === '[') {
      const end = classEnd(pattern, i)
      if (end === -1) throw new InvalidKeyError(`pattern ${JSON.stringify(pattern)} has an unclosed '['`)
      wildcards++
      i = end
    }
  }
  if (wildcards > limits.maxWildcards) {
    throw new InvalidKeyError(
      `pattern ${JSON.stringify(pattern)} has ${wildcards} wildcards; the limit is ${limits.maxWildcards}`,
    )
  }
}

/** Index of the ']' closing the class opened at `start`, or -1. */
function classEnd(pattern: string, start: number): number {
  for (let i = start + 1; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++
    else if (pattern[i] === ']') return i
  }
  return -1
}

/** The namespace of a key: the segment before the first ':', or '' when there is none. */
export function namespaceOf(key: string): string {
  const colon = key.indexOf(':')
  return colon === -1 ? '' : key.slice(0, colon)
}
