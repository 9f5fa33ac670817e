import { PGlite } from '@electric-sql/pglite'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { createCache } from '../../src/index.js'

const db = new PGlite()
afterAll(() => db.close())

/** A fresh copy of cachet/sql, and its engine, whose `import('libpg-query')` gives what `load` says. */
async function loadSqlModule(load?: () => Record<string, unknown>) {
  vi.resetModules()
  if (load) vi.doMock('libpg-query', load)
  else vi.doUnmock('libpg-query')
  const sql = await import('../../src/sql/index.js')
  return sql.createQueryCache({ cache: createCache({ redis: false, logger: false }), db })
}

describe('which SQL analyser is in use', () => {
  it('is PostgreSQL’s parser when libpg-query loads, and health and stats say so', async () => {
    const queries = await loadSqlModule()
    expect((await queries.health()).parser).toEqual({ kind: 'libpg-query' })
    expect(queries.stats().parser).toBe('libpg-query')
  })

  it('falls back to the tokenizer when libpg-query is not installed, says why, and still caches reads only', async () => {
    const queries = await loadSqlModule(() => {
      throw new Error("Cannot find package 'libpg-query'")
    })
    const { parser } = await queries.health()
    expect(parser.kind).toBe('tokenizer')
    expect(parser.reason).toMatch(/^libpg-query could not be loaded \(.+\)$/)
    expect(queries.stats().parser).toBe('tokenizer')
    await db.query('CREATE TABLE IF NOT EXISTS fallback_t (id int)')
    expect(await queries.query('SELECT count(*)::int AS n FROM fallback_t')).toEqual([{ n: 0 }])
    await expect(queries.query('DELETE FROM fallback_t')).rejects.toThrow(/use execute/)
  })

  it('falls back when the WebAssembly module fails to start', async () => {
    const queries = await loadSqlModule(() => ({
      loadModule: () => Promise.reject(new Error('WebAssembly.instantiate(): out of memory')),
      parseSync: () => ({ stmts: [] }),
    }))
    expect((await queries.health()).parser).toMatchObject({ kind: 'tokenizer', reason: /out of memory/ })
  })
})
