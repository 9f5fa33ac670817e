/**
 * Redis glob patterns (SCAN MATCH semantics: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\` escapes)
 * compiled to a RegExp, so L1 applies exactly the pattern Redis applies to L2. Never throws: every
 * character that reaches the RegExp is escaped, and a reversed range is swapped as Redis does.
 */
export function globToRegExp(pattern: string): RegExp {
  const chars = [...pattern]
  let source = '^'
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i]!
    if (char === '\\' && i + 1 < chars.length) {
      source += literal(chars[++i]!)
    } else if (char === '*') {
      source += '[\\s\\S]*'
    } else if (char === '?') {
      source += '[\\s\\S]'
    } else if (char === '[') {
      const parsed = parseClass(chars, i)
      if (!parsed) source += literal('[')
      else {
        source += parsed.source
        i = parsed.end
      }
    } else {
      source += literal(char)
    }
  }
  return new RegExp(`${source}$`, 'u')
}

/** A `[...]` class starting at `start`, or undefined when it is never closed (then `[` is literal). */
function parseClass(chars: string[], start: number): { source: string; end: number } | undefined {
  let i = start + 1
  const negated = chars[i] === '^'
  if (negated) i++
  let members = ''
  for (; i < chars.length; i++) {
    let char = chars[i]!
    if (char === ']') return { source: `[${negated ? '^' : ''}${members}]`, end: i }
    if (char === '\\' && i + 1 < chars.length) char = chars[++i]!
    if (chars[i + 1] === '-' && i + 2 < chars.length && chars[i + 2] !== ']') {
      let to = chars[i + 2]!
      i += 2
      if (to === '\\' && i + 1 < chars.length) to = chars[++i]!
      const [low, high] = [char.codePointAt(0)!, to.codePointAt(0)!].sort((a, b) => a - b)
      members += `${codePoint(low!)}-${codePoint(high!)}`
    } else {
      members += codePoint(char.codePointAt(0)!)
    }
  }
  return undefined
}

function literal(char: string): string {
  return codePoint(char.codePointAt(0)!)
}

function codePoint(point: number): string {
  return `\\u{${point.toString(16)}}`
}
