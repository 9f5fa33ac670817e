import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { normalizeSql, tokenize } from '../../src/sql/index.js'

const kinds = (sql: string) => tokenize(sql).map((token) => [token.kind, token.text])

describe('tokenize', () => {
  it('splits words, numbers, operators, punctuation and parameters', () => {
    expect(kinds('SELECT a.b, 1.5e3 FROM t WHERE x >= $1::int AND y <> :name')).toEqual([
      ['word', 'select'],
      ['word', 'a'],
      ['punct', '.'],
      ['word', 'b'],
      ['punct', ','],
      ['number', '1.5e3'],
      ['word', 'from'],
      ['word', 't'],
      ['word', 'where'],
      ['word', 'x'],
      ['op', '>='],
      ['param', '$1'],
      ['op', '::'],
      ['word', 'int'],
      ['word', 'and'],
      ['word', 'y'],
      ['op', '<>'],
      ['named', ':name'],
    ])
  })

  it("keeps string literals verbatim, with '' escapes", () => {
    expect(kinds("select 'It''s -- not a comment' , 'A'")).toEqual([
      ['word', 'select'],
      ['string', "'It''s -- not a comment'"],
      ['punct', ','],
      ['string', "'A'"],
    ])
  })

  it("reads E'' strings with backslash escapes, and lowercases only the prefix", () => {
    expect(kinds("SELECT E'a\\'b' , 'c'")).toEqual([
      ['word', 'select'],
      ['string', "e'a\\'b'"],
      ['punct', ','],
      ['string', "'c'"],
    ])
    // In a standard string a backslash is an ordinary character: the quote ends it.
    expect(kinds("'a\\' , 'b'").map(([, text]) => text)).toEqual(["'a\\'", ',', "'b'"])
  })

  it("reads B'', X'', N'' and U&'' literals as one token each", () => {
    expect(kinds("B'101' X'1F' N'né' U&'d\\0061t' u&\"Col\"")).toEqual([
      ['string', "b'101'"],
      ['string', "x'1F'"],
      ['string', "n'né'"],
      ['string', "u&'d\\0061t'"],
      ['quoted', 'u&"Col"'],
    ])
  })

  it('reads dollar-quoted bodies, tagged or not, whatever they contain', () => {
    const sql = "SELECT $$ it's -- here /* */ $$, $fn$ SELECT 'x' FROM t $inner$ $fn$, $1"
    expect(kinds(sql)).toEqual([
      ['word', 'select'],
      ['dollar', "$$ it's -- here /* */ $$"],
      ['punct', ','],
      ['dollar', "$fn$ SELECT 'x' FROM t $inner$ $fn$"],
      ['punct', ','],
      ['param', '$1'],
    ])
  })

  it('keeps quoted identifiers verbatim, with "" escapes', () => {
    expect(kinds('SELECT "My ""Col""" FROM "Orders"')).toEqual([
      ['word', 'select'],
      ['quoted', '"My ""Col"""'],
      ['word', 'from'],
      ['quoted', '"Orders"'],
    ])
  })

  it('drops line comments and nested block comments', () => {
    expect(kinds('SELECT 1 -- one\n/* a /* nested */ still comment */ + 2 /* end */')).toEqual([
      ['word', 'select'],
      ['number', '1'],
      ['op', '+'],
      ['number', '2'],
    ])
  })

  it('ends an operator at a comment start', () => {
    expect(kinds('a*/*c*/b - -- c\n1')).toEqual([
      ['word', 'a'],
      ['op', '*'],
      ['word', 'b'],
      ['op', '-'],
      ['number', '1'],
    ])
  })

  it('allows $ inside identifiers, and does not mistake them for dollar quotes', () => {
    expect(kinds('select a$b, $1')).toEqual([
      ['word', 'select'],
      ['word', 'a$b'],
      ['punct', ','],
      ['param', '$1'],
    ])
  })

  it('runs unterminated literals and comments to the end instead of throwing', () => {
    expect(kinds("select 'open").at(-1)).toEqual(['string', "'open"])
    expect(kinds('select "open').at(-1)).toEqual(['quoted', '"open'])
    expect(kinds('select $$ open').at(-1)).toEqual(['dollar', '$$ open'])
    expect(kinds('select 1 /* open')).toEqual([
      ['word', 'select'],
      ['number', '1'],
    ])
  })

  it('never throws and always covers the input in order (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ab $\'"-/*:;.()E&U\n1 ') }), (sql) => {
        const tokens = tokenize(sql)
        let last = 0
        for (const token of tokens) {
          expect(token.start).toBeGreaterThanOrEqual(last)
          expect(token.end).toBeGreaterThan(token.start)
          last = token.end
        }
        expect(last).toBeLessThanOrEqual(sql.length)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('normalizeSql', () => {
  it('collapses whitespace and case outside literals', () => {
    expect(normalizeSql("SELECT *  FROM t\n\tWHERE a='X'")).toBe(normalizeSql("select * from t where a='X'"))
    expect(normalizeSql("SELECT *  FROM t WHERE a='X'")).toBe("select * from t where a = 'X'")
  })

  it('keeps queries that differ only in a string literal apart (seed 003 lowercased everything)', () => {
    expect(normalizeSql("select * from t where a='X'")).not.toBe(normalizeSql("select * from t where a='x'"))
    expect(normalizeSql("select E'\\x41'")).not.toBe(normalizeSql("select E'\\x61'"))
    expect(normalizeSql('select $$A$$')).not.toBe(normalizeSql('select $$a$$'))
  })

  it('keeps quoted identifiers case-sensitive, and unquoted ones folded', () => {
    expect(normalizeSql('SELECT * FROM "Users"')).not.toBe(normalizeSql('SELECT * FROM "users"'))
    expect(normalizeSql('SELECT * FROM Users')).toBe(normalizeSql('select * from USERS'))
  })

  it('ignores comments, but not comment-like text inside literals', () => {
    expect(normalizeSql('select 1 -- note\n')).toBe(normalizeSql('select /* other */ 1'))
    expect(normalizeSql("select '-- a'")).not.toBe(normalizeSql("select '-- b'"))
  })

  it("tells E'…' (an escape string) from e '…' (a literal typed e)", () => {
    expect(normalizeSql("select E'a'")).not.toBe(normalizeSql("select e 'a'"))
  })

  it('is idempotent (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'aB $\'"-/*:;.()E&\n1=') }), (sql) => {
        const once = normalizeSql(sql)
        // Re-normalizing the output may only differ where the input was unterminated.
        if (!/['"$]|\/\*/.test(sql)) expect(normalizeSql(once)).toBe(once)
      }),
      { numRuns: 2000 },
    )
  })
})
