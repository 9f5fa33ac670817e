import { errorMessage } from '../core/errors.js'

/** Parses SQL into PostgreSQL's own parse tree (libpg-query's JSON), synchronously once loaded. */
export type ParseSql = (sql: string) => { stmts?: Array<{ stmt: unknown }> }

/** Which analyser finds tables and decides what query() may cache. */
export interface SqlParserStatus {
  /** 'libpg-query': PostgreSQL's parser; 'tokenizer': cachet's fallback, when the parser cannot load. */
  kind: 'libpg-query' | 'tokenizer'
  /** Why the parser is not in use. */
  reason?: string
}

interface Loaded {
  parse?: ParseSql
  status: SqlParserStatus
}

let loading: Promise<Loaded> | undefined

/**
 * Loads libpg-query (an optional peer dependency: WebAssembly, loaded once per process). When it is not
 * installed or does not load, cachet's tokenizer finds tables instead, and the status says why.
 */
export function loadSqlParser(): Promise<Loaded> {
  loading ??= (async (): Promise<Loaded> => {
    try {
      const parser = await import('libpg-query')
      await parser.loadModule()
      return { parse: parser.parseSync as ParseSql, status: { kind: 'libpg-query' } }
    } catch (error) {
      const reason = `libpg-query could not be loaded (${errorMessage(error)})`
      return { status: { kind: 'tokenizer', reason } }
    }
  })()
  return loading
}
