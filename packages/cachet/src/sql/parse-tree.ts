import type { ParseSql } from './pg-parser.js'
import { functionVerdict, type ReadVerdict, refuse } from './read-only.js'
import type { SqlTables } from './tables.js'

/** Tables and read verdict of a text, from PostgreSQL's parse tree. */
export interface ParsedSql extends SqlTables {
  verdict: ReadVerdict
}

type Fields = Record<string, unknown>
interface RangeVar {
  relname: string
  schemaname?: string
  catalogname?: string
}

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])
// DROP and RENAME of these change what a query reading the name returns.
const RELATION_KINDS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE'])

/** What a walk over one statement found. */
class Findings {
  readonly reads = new Set<string>()
  readonly writes = new Set<string>()
  modifiesData: string | undefined
  locks = false
  into = false
  sample = false
  readonly functions: string[] = []
}

/**
 * Walks libpg-query's JSON parse tree: every relation read (CTE names in scope are not relations; the
 * target of INSERT / UPDATE / DELETE / MERGE always is), every relation written (also in CTEs, and by
 * TRUNCATE, COPY … FROM, REFRESH MATERIALIZED VIEW, ALTER / DROP / RENAME of a table or view, SELECT … INTO,
 * CREATE TABLE AS, CREATE OR REPLACE VIEW), and whether query() may cache the text (docs/sql.md).
 * Throws the parser's SqlError when the text is not valid SQL.
 */
export function analyzeParseTree(sql: string, parse: ParseSql): ParsedSql {
  // The parser reads a C string: it would stop at a NUL and never see what follows.
  if (sql.includes('\0')) throw new SyntaxError('SQL text contains a NUL byte')
  // libpg-query throws on an empty text; no statements is what it means.
  const statements = sql.trim() === '' ? [] : (parse(sql).stmts ?? [])
  const reads = new Set<string>()
  const writes = new Set<string>()
  let verdict: ReadVerdict | undefined
  for (const { stmt } of statements) {
    const found = new Findings()
    visit(stmt, new Set(), found)
    for (const table of found.reads) reads.add(table)
    for (const table of found.writes) writes.add(table)
    verdict ??= statementVerdict(stmt as Fields, found)
  }
  if (statements.length === 0) verdict = refuse(true, 'is empty')
  if (writes.size > 0) verdict = refuse(true, `writes ${[...writes].join(', ')}`)
  return {
    reads: [...new Set([...reads, ...writes])],
    writes: [...writes],
    verdict: verdict ?? { cacheable: true },
  }
}

function statementVerdict(stmt: Fields, found: Findings): ReadVerdict | undefined {
  let statement = stmt
  const explain = statement.ExplainStmt as Fields | undefined
  if (explain) {
    if (runsStatement(explain.options)) return refuse(true, 'EXPLAIN ANALYZE runs the statement')
    statement = explain.query as Fields
  }
  const kind = Object.keys(statement)[0]
  if (kind !== 'SelectStmt') return refuse(true, `is not a read statement (it is a ${kind})`)
  if (found.modifiesData) return refuse(true, `modifies data in a subquery (${found.modifiesData})`)
  if (found.into) return refuse(true, 'SELECT … INTO creates a table')
  if (found.locks) return refuse(true, 'FOR UPDATE / FOR SHARE locks rows')
  if (found.sample) return refuse(false, 'TABLESAMPLE returns a random sample')
  for (const name of found.functions) {
    const verdict = functionVerdict(name)
    if (!verdict.cacheable) return verdict
  }
  return undefined
}

/** EXPLAIN's ANALYZE option, unless set to false / off / 0. */
function runsStatement(options: unknown): boolean {
  return ((options as Array<{ DefElem?: Fields }>) ?? []).some(({ DefElem: option }) => {
    if (option?.defname !== 'analyze') return false
    const arg = option.arg as { String?: { sval: string }; Integer?: { ival?: number }; Boolean?: Fields }
    if (arg === undefined) return true
    if (arg.String) return !['false', 'off', '0', 'no'].includes(arg.String.sval.toLowerCase())
    if (arg.Integer) return (arg.Integer.ival ?? 0) !== 0
    if (arg.Boolean) return arg.Boolean.boolval === true
    return true
  })
}

function visit(node: unknown, ctes: ReadonlySet<string>, found: Findings): void {
  if (Array.isArray(node)) {
    for (const item of node) visit(item, ctes, found)
    return
  }
  if (node === null || typeof node !== 'object') return
  for (const [key, value] of Object.entries(node as Fields)) {
    if (!/^[A-Z]/.test(key)) {
      visit(value, ctes, found)
      continue
    }
    const fields = value as Fields
    if (key === 'RangeVar') {
      const table = fields as unknown as RangeVar
      if (table.schemaname !== undefined || !ctes.has(table.relname)) found.reads.add(table.relname)
      continue
    }
    visitNode(key, fields, ctes, found)
  }
}

/** One node `{ Kind: fields }`: the relations it names in typed fields, then its children. */
function visitNode(kind: string, fields: Fields, outer: ReadonlySet<string>, found: Findings): void {
  const write = (relation: unknown) => found.writes.add((relation as RangeVar).relname)
  const skip = new Set(['withClause'])
  if (DML.has(kind)) {
    write(fields.relation)
    skip.add('relation')
    found.modifiesData ??= kind.replace('Stmt', '').toUpperCase()
  }
  switch (kind) {
    case 'CopyStmt':
      if (fields.relation) (fields.is_from ? write : read(found))(fields.relation)
      break
    case 'TruncateStmt':
      for (const relation of fields.relations as Array<{ RangeVar: RangeVar }>) write(relation.RangeVar)
      break
    case 'RefreshMatViewStmt':
    case 'ViewStmt':
      write(fields.relation ?? fields.view)
      break
    case 'AlterTableStmt':
    case 'RenameStmt':
      if (fields.relation && RELATION_KINDS.has(String(fields.objtype ?? fields.renameType))) {
        write(fields.relation)
      }
      break
    case 'DropStmt':
      if (RELATION_KINDS.has(String(fields.removeType))) {
        for (const object of fields.objects as Array<{
          List: { items: Array<{ String: { sval: string } }> }
        }>) {
          const parts = object.List.items
          write({ relname: parts[parts.length - 1]!.String.sval })
        }
      }
      break
    case 'SelectStmt':
    case 'CreateTableAsStmt': {
      const into = (fields.intoClause ?? fields.into) as { rel: RangeVar } | undefined
      if (into) {
        write(into.rel)
        found.into = true
      }
      break
    }
    case 'LockingClause':
      // FOR UPDATE OF names FROM items (often aliases), not tables.
      skip.add('lockedRels')
      found.locks = true
      break
    case 'RangeTableSample':
      found.sample = true
      break
    case 'FuncCall': {
      const name = fields.funcname as Array<{ String?: { sval: string } }>
      const last = name[name.length - 1]?.String?.sval
      if (last !== undefined) found.functions.push(last)
      break
    }
  }
  const ctes = withScope(fields.withClause as Fields | undefined, outer, found)
  for (const [key, value] of Object.entries(fields)) {
    if (!skip.has(key)) visit(value, ctes, found)
  }
}

const read = (found: Findings) => (relation: unknown) => found.reads.add((relation as RangeVar).relname)

/**
 * Visits the CTEs of a WITH clause and returns the names in scope after it. A plain CTE sees the ones
 * before it; with RECURSIVE every CTE of the list sees all of them, itself included.
 */
function withScope(
  clause: Fields | undefined,
  outer: ReadonlySet<string>,
  found: Findings,
): ReadonlySet<string> {
  if (!clause) return outer
  const ctes = (clause.ctes as Array<{ CommonTableExpr: { ctename: string; ctequery: unknown } }>).map(
    (cte) => cte.CommonTableExpr,
  )
  const all = new Set([...outer, ...ctes.map((cte) => cte.ctename)])
  const seen = new Set(outer)
  for (const cte of ctes) {
    visit(cte.ctequery, clause.recursive === true ? all : seen, found)
    seen.add(cte.ctename)
  }
  return all
}
