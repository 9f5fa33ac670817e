import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidKeyError, SerializationError } from '../../src/core/errors.js'
import {
  escapeGlob,
  hashKey,
  MAX_KEY_BYTES,
  namespaceOf,
  stableStringify,
  validateKey,
  validatePattern,
  validateTag,
} from '../../src/core/keys.js'

/**
 * A reference matcher with Redis stringmatchlen semantics: `*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`.
 * Written independently of the code under test.
 */
function globMatch(pattern: string, text: string): boolean {
  const match = (p: number, t: number): boolean => {
    while (p < pattern.length) {
      const char = pattern[p]!
      if (char === '*') {
        for (let k = t; k <= text.length; k++) if (match(p + 1, k)) return true
        return false
      }
      if (t >= text.length) return false
      if (char === '?') {
        p++
        t++
      } else if (char === '[') {
        let q = p + 1
        const negate = pattern[q] === '^'
        if (negate) q++
        let found = false
        while (q < pattern.length && pattern[q] !== ']') {
          if (pattern[q] === '\\' && q + 1 < pattern.length) {
            if (pattern[q + 1] === text[t]) found = true
            q += 2
          } else if (pattern[q + 1] === '-' && q + 2 < pattern.length && pattern[q + 2] !== ']') {
            if (pattern[q]! <= text[t]! && text[t]! <= pattern[q + 2]!) found = true
            q += 3
          } else {
            if (pattern[q] === text[t]) found = true
            q++
          }
        }
        if (found === negate) return false
        p = q + 1
        t++
      } else {
        const literal = char === '\\' && p + 1 < pattern.length ? pattern[++p]! : char
        if (literal !== text[t]) return false
        p++
        t++
      }
    }
    return t === text.length
  }
  return match(0, 0)
}

describe('validateKey', () => {
  it('accepts ordinary keys, including unicode and colons', () => {
    for (const key of ['a', 'users:42', 'dashboard:stats', 'héllo:wörld', 'k'.repeat(MAX_KEY_BYTES)]) {
      expect(() => validateKey(key)).not.toThrow()
    }
  })

  it.each([
    [42, /must be a string, got number/],
    [null, /must be a string, got null/],
    [undefined, /must be a string, got undefined/],
    ['', /must not be empty/],
    ['k'.repeat(1025), /1025 bytes in UTF-8; the limit is 1024/],
    ['é'.repeat(513), /1026 bytes in UTF-8/],
    ['__tag:x', /starts with '__', which is reserved/],
    ['a\nb', /NUL, CR or LF/],
    ['a\rb', /NUL, CR or LF/],
    ['a\0b', /NUL, CR or LF/],
  ])('rejects %j with a clear message', (key, message) => {
    expect(() => validateKey(key)).toThrow(InvalidKeyError)
    expect(() => validateKey(key)).toThrow(message)
  })

  it('puts the offending key (shortened) on the error', () => {
    try {
      validateKey(`__${'x'.repeat(500)}`)
      expect.unreachable()
    } catch (error) {
      expect((error as InvalidKeyError).code).toBe('E_INVALID_KEY')
      expect((error as InvalidKeyError).key?.length).toBeLessThanOrEqual(101)
    }
  })
})

describe('validateTag', () => {
  it('accepts tags up to 256 bytes and rejects longer ones', () => {
    expect(() => validateTag('t'.repeat(256))).not.toThrow()
    expect(() => validateTag('t'.repeat(257))).toThrow(/tag is 257 bytes in UTF-8; the limit is 256/)
  })

  it.each([[1], [''], ['__x'], ['a\nb']])('rejects %j', (tag) => {
    expect(() => validateTag(tag)).toThrow(InvalidKeyError)
  })
})

describe('hashKey', () => {
  it('is truncated sha256 hex', () => {
    expect(hashKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223')
    expect(hashKey('abc', 64)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(hashKey('abc', 8)).toBe('ba7816bf')
  })

  it('rejects a length outside 1..64', () => {
    expect(() => hashKey('a', 0)).toThrow(RangeError)
    expect(() => hashKey('a', 65)).toThrow(RangeError)
  })
})

describe('stableStringify', () => {
  it('ignores object key order, at every depth', () => {
    expect(stableStringify({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } })).toBe(
      stableStringify({ a: { c: [3, { e: 2, f: 1 }], d: 2 }, b: 1 }),
    )
  })

  it('ignores Map and Set insertion order', () => {
    expect(
      stableStringify(
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe(
      stableStringify(
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      ),
    )
    expect(stableStringify(new Set([2, 1]))).toBe(stableStringify(new Set([1, 2])))
  })

  it('keeps values of different types apart', () => {
    const texts = [
      1,
      '1',
      1n,
      true,
      'true',
      null,
      'null',
      undefined,
      new Date(0),
      new Date(0).toISOString(),
      [1],
      new Set([1]),
      { 0: 1 },
      new Map([[0, 1]]),
      Number.NaN,
      'NaN',
    ].map(stableStringify)
    expect(new Set(texts).size).toBe(texts.length)
  })

  it('treats an undefined property as absent, as JSON does, but keeps undefined array items', () => {
    expect(stableStringify({ a: 1, b: undefined })).toBe(stableStringify({ a: 1 }))
    expect(stableStringify([undefined])).not.toBe(stableStringify([null]))
  })

  it('is deterministic for equal inputs (property)', () => {
    fc.assert(
      fc.property(fc.object(), (value) => {
        const shuffled = JSON.parse(JSON.stringify(value), function (this: unknown, _k, v) {
          if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
          return Object.fromEntries(Object.entries(v).reverse())
        })
        expect(stableStringify(shuffled)).toBe(stableStringify(JSON.parse(JSON.stringify(value))))
      }),
    )
  })

  it('throws SerializationError on functions, symbols and cycles', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => stableStringify({ f: () => 1 })).toThrow(SerializationError)
    expect(() => stableStringify([Symbol('s')])).toThrow(SerializationError)
    expect(() => stableStringify(cyclic)).toThrow(/circular/)
    const shared = { n: 1 }
    expect(() => stableStringify([shared, shared])).not.toThrow()
  })
})

describe('escapeGlob', () => {
  it('escapes every glob metacharacter', () => {
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f')
    expect(escapeGlob('users:42')).toBe('users:42')
  })

  it('agrees with the reference matcher on ordinary globs', () => {
    expect(globMatch('users:*', 'users:42')).toBe(true)
    expect(globMatch('user?:1', 'users:1')).toBe(true)
    expect(globMatch('[a-c]x', 'bx')).toBe(true)
    expect(globMatch('[^a]x', 'ax')).toBe(false)
    expect(globMatch('a\\*', 'ab')).toBe(false)
  })

  const globby = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?', '[', ']', '\\', '^', '-', ':') })

  it('makes a literal match exactly itself (property)', () => {
    fc.assert(
      fc.property(globby, globby, (literal, other) => {
        expect(globMatch(escapeGlob(literal), literal)).toBe(true)
        expect(globMatch(escapeGlob(literal), other)).toBe(literal === other)
      }),
      { numRuns: 2_000 },
    )
  })

  it('keeps a literal prefix literal under a trailing wildcard (property)', () => {
    fc.assert(
      fc.property(globby, globby, globby, (prefix, rest, other) => {
        const pattern = `${escapeGlob(prefix)}*`
        expect(globMatch(pattern, prefix + rest)).toBe(true)
        expect(globMatch(pattern, other)).toBe(other.startsWith(prefix))
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('validatePattern', () => {
  it('accepts ordinary patterns', () => {
    for (const pattern of ['dashboard:*', 'users:?', 'a[bc]d', 'literal\\*star', 'x']) {
      expect(() => validatePattern(pattern)).not.toThrow()
    }
  })

  it.each([
    [42, /must be a string/],
    ['', /must not be empty/],
    ['a'.repeat(257), /257 characters; the limit is 256/],
    ['*a*b*c*d*e*f*g*h*', /9 wildcards; the limit is 8/],
    ['abc\\', /ends with a lone '\\'/],
    ['a[bc', /unclosed '\['/],
    ['a\nb*', /control character/],
    ['\u001b[2Jusers:*', /control character/],
    ['__*', /starts with '__', which is reserved/],
  ])('rejects %j', (pattern, message) => {
    expect(() => validatePattern(pattern)).toThrow(InvalidKeyError)
    expect(() => validatePattern(pattern)).toThrow(message)
  })

  it('does not count escaped metacharacters as wildcards and honours custom limits', () => {
    expect(() => validatePattern(escapeGlob('*'.repeat(50)))).not.toThrow()
    expect(() => validatePattern('a*b*', { maxLength: 10, maxWildcards: 1 })).toThrow(
      /2 wildcards; the limit is 1/,
    )
    expect(() => validatePattern('a'.repeat(11), { maxLength: 10, maxWildcards: 1 })).toThrow(/limit is 10/)
  })
})

describe('namespaceOf', () => {
  it('is the segment before the first colon, or empty', () => {
    expect(namespaceOf('dashboard:stats:today')).toBe('dashboard')
    expect(namespaceOf('plain')).toBe('')
    expect(namespaceOf(':x')).toBe('')
  })
})
