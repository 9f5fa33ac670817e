const MAX_STRING = 512
const MAX_ITEMS = 50
const MAX_DEPTH = 4

/**
 * Escapes every control character (CR, LF, ESC of ANSI sequences, NUL…) as `\xNN`, so a value
 * written to a log line or a terminal cannot forge a line or repaint the screen (docs/reliability.md S9).
 */
export function escapeControl(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (char) => {
    const code = char.charCodeAt(0)
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\x${code.toString(16).padStart(2, '0')}`
  })
}

/** A copy of request parameters fit for the audit log: control characters escaped, sizes bounded. */
export function sanitizeParams(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    const escaped = escapeControl(value)
    return escaped.length > MAX_STRING ? `${escaped.slice(0, MAX_STRING)}…(${escaped.length} chars)` : escaped
  }
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value
  if (depth >= MAX_DEPTH) return '[nested]'
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ITEMS).map((item) => sanitizeParams(item, depth + 1))
    return value.length > MAX_ITEMS ? [...items, `…(${value.length} items)`] : items
  }
  if (typeof value === 'object') {
    // No prototype: a key named __proto__ stays a plain property.
    const out: Record<string, unknown> = Object.create(null)
    for (const [key, item] of Object.entries(value as Record<string, unknown>).slice(0, MAX_ITEMS)) {
      out[escapeControl(key)] = sanitizeParams(item, depth + 1)
    }
    return out
  }
  return undefined
}
