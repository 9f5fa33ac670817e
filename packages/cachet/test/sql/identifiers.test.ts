import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CacheApi, createCache } from '../../src/index.js'
import { analyzeSql, sqlFindings } from '../../src/sql/analyze.js'
import { createQueryCache, normalizeSql, tableName, tokenize } from '../../src/sql/index.js'
import { loadSqlParser } from '../../src/sql/pg-parser.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'
import { analysers } from './helpers/analysers.js'
import { type Backend, backends, type TestDatabase, warnSkipped } from './helpers/databases.js'

/** The tables read, as each analyser finds them: both must agree. */
const reads = (sql: string) => analysers.map(({ analyze }) => analyze(sql).reads)
const both = <T>(value: T) => [value, value]

// PostgreSQL folds only A–Z in unquoted identifiers (and splits words only at ASCII whitespace).
describe('identifier folding', () => {
  it('lowercases ASCII letters only: É, the Kelvin sign and dotted İ stay as written', () => {
    expect(normalizeSql('SELECT * FROM Été')).toBe('select * from Été')
    expect(normalizeSql('SELECT * FROM Été')).not.toBe(normalizeSql('SELECT * FROM été'))
    expect(normalizeSql('SELECT \u212Aey FROM t')).toBe('select \u212Aey from t')
    expect(normalizeSql('SELECT İD FROM ÉTÉ')).toBe('select İd from ÉtÉ')
  })

  it('detects and names tables the same way', () => {
    expect(reads('SELECT * FROM ÉTÉ JOIN Été ON true')).toEqual(both(['ÉtÉ', 'Été']))
    expect(tableName('Été')).toBe('Été')
    expect(tableName('\u212Aelvin')).toBe('\u212Aelvin')
  })

  it('does not split a word at a non-ASCII space (PostgreSQL reads it as part of the name)', () => {
    expect(normalizeSql('SELECT a,\u00a0b FROM t')).not.toBe(normalizeSql('SELECT a, b FROM t'))
    expect(reads('SELECT * FROM t,\u00a0u')).toEqual(both(['t', '\u00a0u']))
  })
})

// A table named two ways must get one tag, or a write through one name leaves reads through the other stale.
describe('table names as the server resolves them', () => {
  it('decodes U&"…" names, with the default escape and with UESCAPE', () => {
    expect(reads('SELECT * FROM U&"\\0074" JOIN u&"\\+00006Fk" ON true')).toEqual(both(['t', 'ok']))
    expect(reads(`SELECT * FROM U&"!0074!!" UESCAPE '!' WHERE true`)).toEqual(both(['t!']))
    expect(tableName('U&"d\\0061t\\\\a"')).toBe('dat\\a')
  })

  it('never throws on malformed escapes, UESCAPE clauses or names (property)', async () => {
    const { parse } = await loadSqlParser()
    const fragments = [
      'U&"',
      'u&"',
      '"',
      '\\',
      '+',
      'D800',
      'DC00',
      '110000',
      '0041',
      'UESCAPE',
      "'!'",
      "''",
      '!',
    ]
    const parts = [...fragments, 'SELECT', 'FROM', 'JOIN', 'nextval', ' ', '(', ')', '.', ';', 'é']
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...parts), { maxLength: 30 }), (chosen) => {
        const sql = chosen.join('')
        expect(() => sqlFindings(sql, parse)).not.toThrow()
        expect(analyzeSql(sql).verdict).toHaveProperty('cacheable')
      }),
      { numRuns: 500 },
    )
  })

  it('leaves a text with a NUL byte to the tokenizer (the parser would stop reading at it)', async () => {
    const { parse } = await loadSqlParser()
    const found = sqlFindings('SELECT 1\u0000; DELETE FROM t', parse)
    expect(found).toMatchObject({ by: 'tokenizer', writes: ['t'], verdict: { cacheable: false } })
  })

  it('truncates names to 63 bytes, as PostgreSQL does, at a character boundary', () => {
    expect(reads(`SELECT * FROM ${'a'.repeat(70)}`)).toEqual(both(['a'.repeat(63)]))
    expect(tableName(`"${'é'.repeat(40)}"`)).toBe('é'.repeat(31))
  })
})

let redis: TestRedis
const caches: CacheApi[] = []
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await Promise.all(caches.map((cache) => cache.close()))
  await redis.stop()
})

for (const backend of backends) defineSuite(backend)

function defineSuite(backend: Backend) {
  warnSkipped(backend)
  describe.skipIf(backend.unavailable !== undefined)(`non-ASCII identifiers on ${backend.name}`, () => {
    let database: TestDatabase
    beforeAll(async () => {
      database = await backend.open()
      await database.sql(`CREATE TABLE "Été" (season text)`)
      await database.sql(`CREATE TABLE "été" (season text)`)
      await database.sql(`INSERT INTO "Été" VALUES ('capital')`)
      await database.sql(`INSERT INTO "été" VALUES ('small')`)
    })
    afterAll(async () => {
      await database?.close()
    })

    it('never serves one table’s rows for the other, and a write to one invalidates its reads', async () => {
      const cache = createCache({ redis: redis.url, prefix: `idents-${backend.name}`, logger: false })
      caches.push(cache)
      const queries = createQueryCache({ cache, db: database.db })
      expect(await queries.query('SELECT season FROM Été')).toEqual([{ season: 'capital' }])
      expect(await queries.query('SELECT season FROM été')).toEqual([{ season: 'small' }])
      await queries.execute(`UPDATE "Été" SET season = 'summer'`)
      expect(await queries.query('SELECT season FROM Été')).toEqual([{ season: 'summer' }])
    })

    it('invalidates reads through a U&"…" or an over-long name when the table is written by its plain name', async () => {
      const long = `${'l'.repeat(63)}_ignored`
      await database.sql(`CREATE TABLE ${long} (v int)`)
      await database.sql(`INSERT INTO ${long.slice(0, 63)} VALUES (1)`)
      const cache = createCache({ redis: redis.url, prefix: `names-${backend.name}`, logger: false })
      caches.push(cache)
      const queries = createQueryCache({ cache, db: database.db })
      const byEscape = `SELECT season FROM U&"\\00C9t\\00E9"`
      expect(await queries.query(byEscape)).toEqual([{ season: expect.any(String) }])
      expect(await queries.query(`SELECT v FROM ${long}`)).toEqual([{ v: 1 }])
      await queries.execute(`UPDATE "Été" SET season = 'autumn'`)
      await queries.execute(`UPDATE ${long.slice(0, 63)} SET v = 2`)
      expect(await queries.query(byEscape)).toEqual([{ season: 'autumn' }])
      expect(await queries.query(`SELECT v FROM ${long}`)).toEqual([{ v: 2 }])
    })

    it('folds an unquoted name exactly as the server does (property)', async () => {
      // ASCII, and letters that String.toLowerCase() folds (or that look like ASCII), and U+00A0.
      const letters = [...'aZq_ÉéßİıΣςǄǅ', '\u212A', '\u2126', '\u00a0']
      const names = fc
        .array(fc.constantFrom(...letters, '1', '$'), { minLength: 1, maxLength: 12 })
        .map((chars) => chars.join(''))
        .filter((name) => !/^[0-9$]/.test(name))
      await fc.assert(
        fc.asyncProperty(names, async (name) => {
          const [row] = await database.sql<Record<string, unknown>>(`SELECT 1 AS ${name}`)
          const tokens = tokenize(name)
          expect(tokens).toHaveLength(1)
          expect(Object.keys(row!)).toEqual([tokens[0]!.text])
        }),
        { numRuns: 60 },
      )
    })
  })
}
