import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileGlob } from '../../src/core/glob.js'

/** A guard against a hang, not a speed goal: a linear matcher needs a few milliseconds for all of it. */
const BOUND_MS = 5_000

/** Patterns that take a backtracking matcher exponential time on a key they do not match. */
const HOSTILE = [
  '********!',
  '*a*a*a*a*a*a*a*b',
  '*?*?*?*?*?*?*?*!',
  '*[a-z]*[a-z]*[a-z]*[a-z]*!',
  '?*?*?*?*?*?*?*?*!',
  '*\\**\\**\\**\\**!',
]
const ROUNDS = 100
const LONG_KEYS = ['a'.repeat(60), `${'a'.repeat(1023)}c`, '*'.repeat(1024), `${'user:42:'.repeat(100)}`]

describe('compileGlob: hostile patterns', () => {
  it('matches hostile patterns against long keys thousands of times within the bound', () => {
    const started = performance.now()
    let matched = 0
    rounds: for (let round = 0; round < ROUNDS; round++) {
      for (const pattern of HOSTILE) {
        const match = compileGlob(pattern)
        for (const key of LONG_KEYS) {
          expect(match(key)).toBe(false)
          matched++
          if (performance.now() - started > BOUND_MS) break rounds
        }
      }
    }
    expect(performance.now() - started).toBeLessThan(BOUND_MS)
    expect(matched).toBe(ROUNDS * HOSTILE.length * LONG_KEYS.length)
  })

  it('fuzz: random patterns and keys never throw and each match stays within the bound', () => {
    const unit = fc.constantFrom(...'*?[]^-\\ab:é\u0000', '\u{1f600}')
    fc.assert(
      fc.property(
        fc.string({ unit, maxLength: 300 }),
        fc.oneof(fc.string({ unit, maxLength: 1024 }), fc.constantFrom(...LONG_KEYS)),
        (pattern, key) => {
          const started = performance.now()
          expect(typeof compileGlob(pattern)(key)).toBe('boolean')
          expect(performance.now() - started).toBeLessThan(BOUND_MS)
        },
      ),
      { numRuns: 2_000 },
    )
  })
})

describe('compileGlob: Redis semantics', () => {
  it.each([
    ['users:*', 'users:42', true],
    ['users:*', 'user:42', false],
    ['user?:1', 'users:1', true],
    ['*', 'x', true],
    // Only '' and SCAN's lone '*' match the empty key.
    ['*', '', true],
    ['**', '', false],
    ['', '', true],
    ['a**b', 'ab', true],
    ['a*', 'a', true],
    ['[a-c]x', 'bx', true],
    ['[c-a]x', 'bx', true],
    ['[^a]x', 'ax', false],
    ['[^a]x', 'bx', true],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['a\\', 'a\\', true],
    ['[\\]]', ']', true],
    // ']' right after '[' closes an empty class, which matches nothing; '[^]' matches any byte.
    ['[]a', 'a', false],
    ['[^]a', 'xa', true],
    // A class never closed takes the rest of the pattern.
    ['a[bc', 'ab', true],
    ['a[bc', 'abc', false],
    ['a[', 'a', false],
    ['a[^', 'ab', true],
    // 'x-]' is a range up to ']', and the class goes on.
    ['[a-]b]', 'Xb]', false],
    ['[a-]b]', '_', true],
    // Bytes: 'é' is two UTF-8 bytes.
    ['?', 'é', false],
    ['??', 'é', true],
    ['caf[é]', 'café', false],
    ['é*', 'été', true],
  ])('%j against %j is %s', (pattern, key, expected) => {
    expect(compileGlob(pattern)(key)).toBe(expected)
  })
})
