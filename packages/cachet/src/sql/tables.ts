import { type IdentifierRef, identifierAt } from './identifier.js'
import type { Token } from './tokenizer.js'

/** The tables a statement reads and writes, by unqualified name (unquoted names lowercased). */
export interface SqlTables {
  reads: string[]
  writes: string[]
}

// A FROM / USING list ends at these words (at its own parenthesis depth).
const LIST_END = new Set([
  'where',
  'group',
  'having',
  'window',
  'order',
  'limit',
  'offset',
  'fetch',
  'for',
  'union',
  'intersect',
  'except',
  'returning',
  'into',
  'set',
  'do',
  'conflict',
  'when',
  'values',
  'select',
])
// Words that can stand where a table name would, and are not one.
const NOT_A_TABLE = new Set(['lateral', 'rows', 'select', 'values', 'with', 'only', 'set', 'table'])
// A statement keyword counts only where a statement can start (not in `FOR UPDATE`, `ON DELETE`, triggers…).
const STATEMENT_START = new Set([undefined, ';', '(', ')', 'explain', 'analyze', 'verbose'])
const SET_OPERATORS = new Set([undefined, ';', '(', ')', 'union', 'intersect', 'except', 'all', 'distinct'])

interface Cte {
  name: string
  /** Token range where the name means the CTE, not a table. */
  from: number
  to: number
}

interface NameRef {
  name: string
  qualified: boolean
  /** Index of the token after the name. */
  next: number
}

/**
 * Finds the tables a statement touches, conservatively: FROM and JOIN targets (also inside CTEs and
 * subqueries), comma lists, DELETE … USING, MERGE … USING, TABLE t; writes of INSERT INTO, UPDATE,
 * DELETE FROM, MERGE INTO, TRUNCATE, COPY … FROM, REFRESH MATERIALIZED VIEW, ALTER/DROP TABLE.
 * Functions in FROM (`generate_series(…)`) and CTE names in scope are not tables.
 */
export function findTables(tokens: readonly Token[]): SqlTables {
  const reads = new Set<string>()
  const writes = new Set<string>()
  const close = matchParens(tokens)
  const ctes = findCtes(tokens, close)
  const word = (i: number) => (tokens[i]?.kind === 'word' ? tokens[i]!.text : undefined)
  const previous = (i: number) => (i > 0 ? tokens[i - 1]!.text : undefined)
  const isCte = (ref: NameRef, at: number) =>
    !ref.qualified && ctes.some((cte) => cte.name === ref.name && at > cte.from && at < cte.to)

  const readItem = (at: number) => {
    let i = at
    if (word(i) === 'only') i++
    const ref = nameAt(tokens, i)
    // `name(` in FROM is a function call: whatever it reads is invisible here.
    if (ref && tokens[ref.next]?.text !== '(' && !isCte(ref, i)) reads.add(ref.name)
  }
  const readList = (at: number) => {
    readItem(at)
    for (let i = at; i < tokens.length; i++) {
      const token = tokens[i]!
      if (token.text === '(' && token.kind === 'punct') i = close.get(i) ?? tokens.length
      else if (token.kind === 'punct' && (token.text === ')' || token.text === ';')) return
      else if (token.kind === 'word' && LIST_END.has(token.text)) return
      else if (token.kind === 'punct' && token.text === ',') readItem(i + 1)
    }
  }
  const writeAt = (at: number) => {
    let i = at
    if (word(i) === 'only') i++
    const ref = nameAt(tokens, i)
    if (ref) writes.add(ref.name)
    return ref
  }
  const writeList = (at: number) => {
    let i = at
    if (word(i) === 'table') i++
    if (word(i) === 'if' && word(i + 1) === 'exists') i += 2
    for (;;) {
      const ref = writeAt(i)
      if (!ref) return
      i = ref.next
      if (tokens[i]?.text === '*') i++
      if (tokens[i]?.text !== ',') return
      i++
    }
  }

  // Per parenthesis level: has a SELECT / UPDATE / DELETE / MERGE started here? A FROM counts only then,
  // which skips EXTRACT(x FROM y), SUBSTRING(s FROM 2), TRIM(… FROM …).
  const frames: Array<{ query: boolean; delete: boolean; merge: boolean }> = [newFrame()]
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token.kind === 'punct') {
      if (token.text === '(') frames.push(newFrame())
      else if (token.text === ')' && frames.length > 1) frames.pop()
      else if (token.text === ';') frames.splice(0, frames.length, newFrame())
      continue
    }
    if (token.kind !== 'word') continue
    const frame = frames[frames.length - 1]!
    const prev = previous(i)
    switch (token.text) {
      case 'select':
        frame.query = true
        break
      case 'from':
        if (prev === 'delete' || prev === 'rows') break
        if (prev === 'distinct' && (previous(i - 1) === 'is' || previous(i - 1) === 'not')) break
        if (frame.query) readList(i + 1)
        break
      case 'join':
        if (word(i + 1) !== 'lateral') readItem(i + 1)
        break
      case 'using':
        if (tokens[i + 1]?.text === '(') break
        if (frame.delete || frame.merge) readList(i + 1)
        break
      case 'table':
        if (SET_OPERATORS.has(prev)) readItem(i + 1)
        break
      case 'insert':
        if (word(i + 1) === 'into') writeAt(i + 2)
        break
      case 'update':
        if (STATEMENT_START.has(prev)) {
          frame.query = true
          writeAt(i + 1)
        }
        break
      case 'delete':
        if (word(i + 1) === 'from') {
          frame.delete = true
          frame.query = true
          writeAt(i + 2)
        }
        break
      case 'merge':
        if (word(i + 1) === 'into') {
          frame.merge = true
          writeAt(i + 2)
        }
        break
      case 'truncate':
        if (STATEMENT_START.has(prev)) writeList(i + 1)
        break
      case 'copy':
        if (STATEMENT_START.has(prev)) {
          const ref = nameAt(tokens, i + 1)
          let next = ref?.next ?? i
          if (tokens[next]?.text === '(') next = (close.get(next) ?? next) + 1
          if (ref && word(next) === 'from') writes.add(ref.name)
        }
        break
      case 'refresh':
        if (word(i + 1) === 'materialized' && word(i + 2) === 'view') {
          writeAt(word(i + 3) === 'concurrently' ? i + 4 : i + 3)
        }
        break
      case 'alter':
      case 'drop':
        if (word(i + 1) === 'table' && STATEMENT_START.has(prev)) writeList(i + 1)
        break
    }
  }
  return { reads: [...new Set([...reads, ...writes])], writes: [...writes] }
}

function newFrame() {
  return { query: false, delete: false, merge: false }
}

/** For every '(' the index of its ')' (or the end when unbalanced). */
function matchParens(tokens: readonly Token[]): Map<number, number> {
  const close = new Map<number, number>()
  const open: number[] = []
  tokens.forEach((token, i) => {
    if (token.kind !== 'punct') return
    if (token.text === '(') open.push(i)
    else if (token.text === ')' && open.length > 0) close.set(open.pop()!, i)
  })
  for (const i of open) close.set(i, tokens.length)
  return close
}

/** WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] ( … ), …: each name and where it is in scope. */
function findCtes(tokens: readonly Token[], close: Map<number, number>): Cte[] {
  const ctes: Cte[] = []
  const enclosing = enclosingGroups(tokens, close)
  tokens.forEach((token, at) => {
    if (token.kind !== 'word' || token.text !== 'with') return
    const scopeEnd = enclosing[at]! >= 0 ? close.get(enclosing[at]!)! : statementEnd(tokens, at)
    let i = at + 1
    const recursive = tokens[i]?.text === 'recursive'
    if (recursive) i++
    for (;;) {
      const ref = identifierAt(tokens, i)
      if (ref === undefined) return
      const { name } = ref
      i = ref.next
      if (tokens[i]?.text === '(') i = close.get(i)! + 1
      if (tokens[i]?.text !== 'as') return
      i++
      if (tokens[i]?.text === 'not') i++
      if (tokens[i]?.text === 'materialized') i++
      if (tokens[i]?.text !== '(') return
      const bodyEnd = close.get(i)!
      // A recursive CTE sees its own name in its body; a plain one only after it.
      ctes.push({ name, from: recursive ? i : bodyEnd, to: scopeEnd })
      i = bodyEnd + 1
      if (tokens[i]?.text !== ',') return
      i++
    }
  })
  return ctes
}

/** For each token, the index of the '(' it sits in, or -1 at the top level. */
function enclosingGroups(tokens: readonly Token[], close: Map<number, number>): number[] {
  const result: number[] = []
  const stack: number[] = []
  tokens.forEach((token, i) => {
    result.push(stack.length > 0 ? stack[stack.length - 1]! : -1)
    if (token.kind !== 'punct') return
    if (token.text === '(' && close.get(i)! < tokens.length) stack.push(i)
    else if (token.text === ')') stack.pop()
  })
  return result
}

function statementEnd(tokens: readonly Token[], from: number): number {
  let depth = 0
  for (let i = from; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token.kind !== 'punct') continue
    if (token.text === '(') depth++
    else if (token.text === ')') depth--
    else if (token.text === ';' && depth <= 0) return i
  }
  return tokens.length
}

/** A possibly qualified name (`db.schema.table`) at `at`; the table is its last part. */
export function nameAt(tokens: readonly Token[], at: number): NameRef | undefined {
  const first = tokens[at]
  if (first?.kind === 'word' && NOT_A_TABLE.has(first.text)) return undefined
  let ref: IdentifierRef | undefined = identifierAt(tokens, at)
  let qualified = false
  while (ref && tokens[ref.next]?.text === '.') {
    const part = identifierAt(tokens, ref.next + 1)
    if (!part) break
    ref = part
    qualified = true
  }
  return ref && { name: ref.name, qualified, next: ref.next }
}
