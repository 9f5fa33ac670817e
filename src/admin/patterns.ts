/**
 * Keys and patterns as the admin API accepts them: relative to the cache prefix (`dashboard:*`),
 * or already prefixed (`cache:dashboard:*`, seed 001's form), which is stripped. The engine puts
 * the prefix back, so whatever the pattern, Redis only ever sees `${prefix}:<pattern>`.
 */

/** Why a key or pattern was refused; undefined when it is acceptable. */
export type Refusal = string | undefined

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
const CONTROL = /[\u0000-\u001f\u007f]/

/** Strips a leading `${prefix}:`. */
export function stripPrefix(input: string, prefix: string): string {
  return input.startsWith(`${prefix}:`) ? input.slice(prefix.length + 1) : input
}

/** Counts unescaped glob metacharacters (`*`, `?`, `[`). */
export function countWildcards(pattern: string): number {
  let count = 0
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]
    if (char === '\\') i++
    else if (char === '*' || char === '?' || char === '[') count++
  }
  return count
}

/** True when the pattern matches every key of the cache (`*`, `**`…). */
export function matchesEverything(pattern: string): boolean {
  return /^\*+$/.test(pattern)
}

/**
 * Why a `[...]` class cannot be used, if it cannot: a range out of order (`[z-a]`) or a backslash
 * inside the class. Redis accepts both, but cachet mirrors every pattern on L1 as a RegExp, where
 * they do not translate reliably: refuse them rather than let the two tiers disagree.
 */
export function refuseClasses(pattern: string): Refusal {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') {
      i++
      continue
    }
    if (pattern[i] !== '[') continue
    const chars: string[] = []
    let j = i + 1
    if (pattern[j] === '^') j++
    for (; j < pattern.length && !(pattern[j] === ']' && chars.length > 0); j++) {
      if (pattern[j] === '\\') return 'must not use a backslash inside [...]'
      chars.push(pattern[j]!)
    }
    if (j >= pattern.length) continue
    for (let k = 1; k + 1 < chars.length; k++) {
      if (chars[k] === '-' && chars[k - 1]! > chars[k + 1]!)
        return 'has a character range out of order (such as [z-a])'
    }
    i = j
  }
  return undefined
}

/** Checks a relative key; keys starting with `__` are cachet's own (tags, locks, audit). */
export function refuseKey(key: string, maxLength: number): Refusal {
  if (key.length === 0) return 'must not be empty'
  if (key.length > maxLength) return `must be at most ${maxLength} characters`
  if (CONTROL.test(key)) return 'must not contain control characters (CR, LF, NUL, ESC…)'
  if (key.startsWith('__')) return "must not start with '__' (reserved for cachet's own keys)"
  return undefined
}

/** Checks a relative glob pattern against the RELIABILITY S6 bounds. */
export function refusePattern(pattern: string, maxLength: number, maxWildcards: number): Refusal {
  if (pattern.length === 0) return 'must not be empty'
  if (pattern.length > maxLength) return `must be at most ${maxLength} characters`
  if (CONTROL.test(pattern)) return 'must not contain control characters (CR, LF, NUL, ESC…)'
  if (pattern.startsWith('__')) return "must not start with '__' (reserved for cachet's own keys)"
  if ((pattern.length - pattern.replace(/\\+$/, '').length) % 2 === 1)
    return 'must not end with a lone backslash'
  if (countWildcards(pattern) > maxWildcards) return `must contain at most ${maxWildcards} wildcards`
  return refuseClasses(pattern)
}
