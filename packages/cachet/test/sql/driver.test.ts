import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/index.js'
import { normalizeResult, toDriver } from '../../src/sql/driver.js'

describe('driver detection and result shapes', () => {
  it("normalises pg's and PGlite's results to rows + rowCount", () => {
    expect(normalizeResult({ rows: [{ a: 1 }], rowCount: 1, command: 'SELECT' })).toEqual({
      rows: [{ a: 1 }],
      rowCount: 1,
    })
    expect(normalizeResult({ rows: [], affectedRows: 3, fields: [] })).toEqual({ rows: [], rowCount: 3 })
    // pg, multi-statement text: one result per statement, the last one counts.
    expect(
      normalizeResult([
        { rows: [], rowCount: null },
        { rows: [{ b: 2 }], rowCount: 1 },
      ]),
    ).toEqual({
      rows: [{ b: 2 }],
      rowCount: 1,
    })
    expect(normalizeResult({ rows: [{ c: 1 }, { c: 2 }], rowCount: null })).toEqual({
      rows: [{ c: 1 }, { c: 2 }],
      rowCount: 2,
    })
  })

  it('tells PGlite, a pg Pool, a pg Client and a custom adapter apart', () => {
    const query = async () => ({ rows: [] })
    expect(toDriver({ query, transaction: async () => {} } as never).kind).toBe('pglite')
    expect(toDriver({ query, connect: async () => {}, totalCount: 0 } as never).kind).toBe('pg-pool')
    expect(toDriver({ query, connect: async () => {} } as never).kind).toBe('pg-client')
    expect(toDriver({ query }).kind).toBe('custom')
  })

  it('runs BEGIN … COMMIT on a single client, one transaction at a time, ROLLBACK on error', async () => {
    const log: string[] = []
    const client = {
      connect: async () => {},
      query: async (text: string) => {
        log.push(text)
        await new Promise((resolve) => setTimeout(resolve, 1))
        return { rows: [], rowCount: 0 }
      },
    }
    const driver = toDriver(client)
    const a = driver.transaction(async (run) => {
      await run('A1', undefined)
      await run('A2', undefined)
    })
    const b = driver.transaction(async (run) => {
      await run('B1', undefined)
      throw new Error('no')
    })
    await a
    await expect(b).rejects.toThrow('no')
    expect(log).toEqual(['BEGIN', 'A1', 'A2', 'COMMIT', 'BEGIN', 'B1', 'ROLLBACK'])
  })

  it('refuses transactions on a custom adapter and rejects a db without query()', async () => {
    await expect(toDriver({ query: async () => ({ rows: [] }) }).transaction(async () => 1)).rejects.toThrow(
      InvalidOptionError,
    )
    expect(() => toDriver({} as never)).toThrow(InvalidOptionError)
  })
})
