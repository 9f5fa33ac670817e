import { analyzeParseTree } from './parse-tree.js'
import { loadSqlParser, type ParseSql, type SqlParserStatus } from './pg-parser.js'
import { type ReadVerdict, readVerdict } from './read-only.js'
import { findTables, type SqlTables } from './tables.js'
import { type Token, tokenize } from './tokenizer.js'

/** What cachet's tokenizer finds in one SQL text; computed once per distinct text. */
export interface SqlInfo {
  tokens: readonly Token[]
  /** Comments dropped, whitespace collapsed, words lowercased, literals verbatim. */
  normalized: string
  reads: readonly string[]
  writes: readonly string[]
  /** Whether query() may cache it. */
  verdict: ReadVerdict
}

/** The tables of a statement and whether query() may cache it, and which analyser said so. */
export interface SqlFindings {
  reads: readonly string[]
  writes: readonly string[]
  verdict: ReadVerdict
  by: SqlParserStatus['kind']
}

const MAX_REMEMBERED = 500
const remembered = new Map<string, SqlInfo>()
const parsed = new Map<string, SqlFindings>()

function remember<V>(map: Map<string, V>, key: string, value: V): V {
  if (map.size >= MAX_REMEMBERED) map.delete(map.keys().next().value!)
  map.set(key, value)
  return value
}

/** Tokenizes and analyses `sql`; applications reuse a few texts, so the last 500 are remembered. */
export function analyzeSql(sql: string): SqlInfo {
  const known = remembered.get(sql)
  if (known) return known
  const tokens = tokenize(sql)
  const { reads, writes } = findTables(tokens)
  return remember(remembered, sql, {
    tokens,
    normalized: tokens.map((token) => token.text).join(' '),
    reads,
    writes,
    verdict: readVerdict(tokens, writes),
  })
}

/**
 * Tables and verdict of `text` (with `$n` placeholders, as sent to the database) from PostgreSQL's parser
 * when it is loaded, else — or when the parser rejects the text, which the database will then most likely
 * do too — from the tokenizer.
 */
export function sqlFindings(text: string, parse: ParseSql | undefined): SqlFindings {
  if (parse) {
    const known = parsed.get(text)
    if (known) return known
    try {
      return remember(parsed, text, { ...analyzeParseTree(text, parse), by: 'libpg-query' })
    } catch {
      // Not valid SQL for the parser: the tokenizer's answer below.
    }
  }
  const { reads, writes, verdict } = analyzeSql(text)
  const findings: SqlFindings = { reads, writes, verdict, by: 'tokenizer' }
  // A text the parser rejected is remembered too, so it is not parsed again on every call.
  return parse ? remember(parsed, text, findings) : findings
}

/** The tables a statement reads and writes, as the query cache tags and invalidates them. */
export async function sqlTables(sql: string): Promise<SqlTables> {
  const { reads, writes } = sqlFindings(sql, (await loadSqlParser()).parse)
  return { reads: [...reads], writes: [...writes] }
}
