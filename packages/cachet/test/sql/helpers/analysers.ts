import { analyzeSql } from '../../../src/sql/analyze.js'
import { analyzeParseTree, type ParsedSql } from '../../../src/sql/parse-tree.js'
import { loadSqlParser } from '../../../src/sql/pg-parser.js'

const loaded = await loadSqlParser()
if (!loaded.parse)
  throw new Error(`the SQL tests need libpg-query (a devDependency): ${loaded.status.reason}`)
const parse = loaded.parse

/** One way of finding a statement's tables and read verdict. */
export interface Analyser {
  name: 'libpg-query' | 'tokenizer'
  analyze(sql: string): ParsedSql
}

/** PostgreSQL's parser (throws on what it cannot parse), and the tokenizer cachet falls back on. */
export const analysers: Analyser[] = [
  { name: 'libpg-query', analyze: (sql) => analyzeParseTree(sql, parse) },
  {
    name: 'tokenizer',
    analyze: (sql) => {
      const { reads, writes, verdict } = analyzeSql(sql)
      return { reads: [...reads], writes: [...writes], verdict }
    },
  },
]
