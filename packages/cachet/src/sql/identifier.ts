import type { Token } from './tokenizer.js'

/** An identifier as the server resolves it, and the index of the token after it. */
export interface IdentifierRef {
  name: string
  next: number
}

// NAMEDATALEN - 1: the server truncates longer names, so `<64 bytes>x` and `<64 bytes>y` are one table.
const MAX_NAME_BYTES = 63
const HEX = /^[0-9A-Fa-f]+$/

/**
 * The identifier at `at`: an unquoted word (already folded by the tokenizer), or a "quoted" name with ""
 * unescaped, U&"…" escapes decoded (with the escape character of a following UESCAPE clause, which it
 * then includes), truncated to 63 bytes like the server does.
 */
export function identifierAt(tokens: readonly Token[], at: number): IdentifierRef | undefined {
  const token = tokens[at]
  if (token?.kind === 'word') return { name: truncate(token.text), next: at + 1 }
  if (token?.kind !== 'quoted') return undefined
  const unicode = token.text.startsWith('u&')
  const body = unicode ? token.text.slice(2) : token.text
  let name = body.slice(1, body.endsWith('"') && body.length > 1 ? -1 : undefined).replaceAll('""', '"')
  let next = at + 1
  if (unicode) {
    let escapeChar = '\\'
    const clause = tokens[next]
    const literal = tokens[next + 1]
    if (clause?.kind === 'word' && clause.text === 'uescape' && literal?.kind === 'string') {
      escapeChar = literal.text.slice(1, -1).replaceAll("''", "'")
      next += 2
    }
    name = decodeEscapes(name, escapeChar)
  }
  return { name: truncate(name), next }
}

/** `\XXXX`, `\+XXXXXX` and `\\` (with `escapeChar` for `\`); a malformed escape, which the server rejects, stays as written. */
function decodeEscapes(text: string, escapeChar: string): string {
  if (escapeChar.length !== 1) return text
  let decoded = ''
  let i = 0
  while (i < text.length) {
    if (text[i] !== escapeChar) {
      decoded += text[i++]
      continue
    }
    if (text[i + 1] === escapeChar) {
      decoded += escapeChar
      i += 2
      continue
    }
    const long = text[i + 1] === '+'
    const digits = long ? text.slice(i + 2, i + 8) : text.slice(i + 1, i + 5)
    const point = Number.parseInt(digits, 16)
    if (digits.length !== (long ? 6 : 4) || !HEX.test(digits) || point > 0x10ffff) {
      decoded += text[i++]
      continue
    }
    // Surrogate halves written as two escapes join into one character here, as they do in the server.
    decoded += String.fromCodePoint(point)
    i += long ? 8 : 5
  }
  return decoded
}

function truncate(name: string): string {
  let bytes = 0
  let end = 0
  for (const char of name) {
    bytes += Buffer.byteLength(char)
    if (bytes > MAX_NAME_BYTES) return name.slice(0, end)
    end += char.length
  }
  return name
}
