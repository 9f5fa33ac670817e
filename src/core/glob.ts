/**
 * Redis glob patterns (SCAN MATCH semantics: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\` escapes)
 * compiled to a RegExp, so L1 applies exactly the pattern Redis applies to L2.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '^'
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!
    if (char === '\\' && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i]!)
    } else if (char === '*') {
      source += '[\\s\\S]*'
    } else if (char === '?') {
      source += '[\\s\\S]'
    } else if (char === '[') {
      const end = classEnd(pattern, i)
      if (end === -1) {
        source += '\\['
        continue
      }
      let body = pattern.slice(i + 1, end)
      const negated = body.startsWith('^')
      if (negated) body = body.slice(1)
      source += `[${negated ? '^' : ''}${body.replace(/[\]\\^]/g, (c) => `\\${c}`).replace(/\\\\(.)/g, '\\$1')}]`
      i = end
    } else {
      source += escapeRegExp(char)
    }
  }
  return new RegExp(`${source}$`)
}

function classEnd(pattern: string, start: number): number {
  for (let i = start + 1; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++
    else if (pattern[i] === ']' && i > start + 1) return i
  }
  return -1
}

function escapeRegExp(char: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(char) ? `\\${char}` : char
}
