/**
 * Redis glob patterns (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\` escapes) matched exactly as Redis'
 * `stringmatchlen` does for SCAN MATCH, so L1 drops the keys Redis finds in L2 and no others.
 *
 * Linear: the pattern is parsed once into one-byte tokens and stars, and a key is matched with the
 * classic two-pointer walk that backtracks only to the last star, so the worst case is
 * O(pattern × key) and no pattern can make matching take exponential time.
 *
 * Redis compares bytes, so keys and patterns are compared as their UTF-8 bytes: `?` matches one
 * byte (a non-ASCII character needs one `?` per byte) and range bounds are bytes compared as signed
 * chars, as Redis does on x86-64 and most platforms.
 */

/** A token is the set of bytes it accepts (a 256-entry table), or STAR. */
type Token = Uint8Array

const STAR: Token = new Uint8Array(0)

/** Compiles a pattern once into a matcher for many keys. Never throws, whatever the pattern. */
export function compileGlob(pattern: string): (key: string) => boolean {
  // SCAN's own shortcut: a lone '*' is not matched at all, so it returns even the empty key.
  if (pattern === '*') return () => true
  const tokens = parse(asBytes(pattern))
  return (key) => matches(tokens, asBytes(key))
}

/** The string's UTF-8 bytes, one per UTF-16 unit (latin1); ASCII strings are their own bytes. */
function asBytes(text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.from(text, 'utf8').toString('latin1')
  }
  return text
}

/** `?`: any one byte. Shared by every pattern (tokens are only read). */
const ANY_BYTE: Token = new Uint8Array(256).fill(1)

function parse(pattern: string): Token[] {
  const tokens: Token[] = []
  const literals = new Map<number, Token>()
  const literal = (byte: number) => {
    let token = literals.get(byte)
    if (!token) {
      token = new Uint8Array(256)
      token[byte] = 1
      literals.set(byte, token)
    }
    return token
  }
  for (let i = 0; i < pattern.length; ) {
    const char = pattern[i]
    if (char === '*') {
      if (tokens[tokens.length - 1] !== STAR) tokens.push(STAR)
      i++
    } else if (char === '?') {
      tokens.push(ANY_BYTE)
      i++
    } else if (char === '[') {
      const token = new Uint8Array(256)
      tokens.push(token)
      i = parseClass(pattern, i + 1, token)
    } else {
      // A '\' escapes the next byte; a '\' ending the pattern is literal.
      if (char === '\\' && i + 1 < pattern.length) i++
      tokens.push(literal(pattern.charCodeAt(i)))
      i++
    }
  }
  return tokens
}

/**
 * Fills `token` with the class whose content starts at `start`; returns the index after it. As in
 * Redis: a ']' right after '[' or '[^' closes an empty class, `x-y` is a range even when y is ']' or
 * '\' (a reversed range is swapped), and a class never closed takes the rest of the pattern.
 */
function parseClass(pattern: string, start: number, token: Token): number {
  let i = start
  const negated = pattern[i] === '^'
  if (negated) i++
  for (; i < pattern.length; i++) {
    const left = pattern.length - i
    if (pattern[i] === '\\' && left >= 2) {
      token[pattern.charCodeAt(++i)] = 1
    } else if (pattern[i] === ']') {
      i++
      break
    } else if (left >= 3 && pattern[i + 1] === '-') {
      const from = signed(pattern.charCodeAt(i))
      const to = signed(pattern.charCodeAt(i + 2))
      const [low, high] = from <= to ? [from, to] : [to, from]
      for (let byte = 0; byte < 256; byte++) {
        const value = signed(byte)
        if (value >= low && value <= high) token[byte] = 1
      }
      i += 2
    } else {
      token[pattern.charCodeAt(i)] = 1
    }
  }
  if (negated) for (let byte = 0; byte < 256; byte++) token[byte] ^= 1
  return i
}

/** A byte as C's signed char: Redis compares range bounds that way. */
function signed(byte: number): number {
  return byte > 0x7f ? byte - 0x100 : byte
}

function matches(tokens: Token[], key: string): boolean {
  // Redis never lets a pattern other than '' match the empty string (not even '**').
  if (key.length === 0) return tokens.length === 0
  let t = 0
  let k = 0
  // Where to resume after a mismatch: the token after the last star, and the key byte it next tries.
  let resumeToken = -1
  let resumeKey = 0
  while (k < key.length) {
    const token = tokens[t]
    if (token === STAR) {
      if (t === tokens.length - 1) return true
      resumeToken = ++t
      resumeKey = k
    } else if (token !== undefined && token[key.charCodeAt(k)] === 1) {
      t++
      k++
    } else if (resumeToken === -1) {
      return false
    } else {
      // The last star swallows one more byte; earlier stars never need to (greedy is exact here).
      t = resumeToken
      k = ++resumeKey
    }
  }
  while (tokens[t] === STAR) t++
  return t === tokens.length
}
