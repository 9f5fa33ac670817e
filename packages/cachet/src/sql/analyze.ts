import { type ReadVerdict, readVerdict } from './read-only.js'
import { findTables, type SqlTables } from './tables.js'
import { type Token, tokenize } from './tokenizer.js'

/** What cachet needs to know about one SQL text; computed once per distinct text. */
export interface SqlInfo {
  tokens: readonly Token[]
  /** Comments dropped, whitespace collapsed, words lowercased, literals verbatim. */
  normalized: string
  reads: readonly string[]
  writes: readonly string[]
  /** Whether query() may cache it. */
  verdict: ReadVerdict
}

const MAX_REMEMBERED = 500
const remembered = new Map<string, SqlInfo>()

/** Tokenizes and analyses `sql`; applications reuse a few texts, so the last 500 are remembered. */
export function analyzeSql(sql: string): SqlInfo {
  const known = remembered.get(sql)
  if (known) return known
  const tokens = tokenize(sql)
  const { reads, writes } = findTables(tokens)
  const info: SqlInfo = {
    tokens,
    normalized: tokens.map((token) => token.text).join(' '),
    reads,
    writes,
    verdict: readVerdict(tokens, writes),
  }
  if (remembered.size >= MAX_REMEMBERED) remembered.delete(remembered.keys().next().value!)
  remembered.set(sql, info)
  return info
}

/** The tables a statement reads and writes, as the query cache tags and invalidates them. */
export function sqlTables(sql: string): SqlTables {
  const { reads, writes } = analyzeSql(sql)
  return { reads: [...reads], writes: [...writes] }
}
