/** What a token is; whitespace and comments produce no token. */
export type TokenKind =
  | 'word' // keyword or unquoted identifier
  | 'quoted' // "quoted identifier" (also U&"…")
  | 'string' // '…', E'…', B'…', X'…', N'…', U&'…'
  | 'dollar' // $$…$$ or $tag$…$tag$
  | 'number'
  | 'param' // $1
  | 'named' // :name
  | 'op' // a run of operator characters, or ::
  | 'punct' // ( ) [ ] , ; . and anything else on its own

/** One lexical token of PostgreSQL SQL. */
export interface Token {
  kind: TokenKind
  /** Canonical text: words and string prefixes lowercased; literals, quoted names and bodies verbatim. */
  text: string
  /** Offsets in the source, [start, end). */
  start: number
  end: number
}

const OPERATOR_CHARS = new Set('+-*/<>=~!@#%^&|`?')
const NUMBER =
  /(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/y
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*)?\$/y
const PARAM = /\$\d+/y

// PostgreSQL's whitespace is ASCII only: U+00A0 and friends are identifier characters, like any byte >= 0x80.
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v'
const isWordStart = (c: string | undefined) =>
  c !== undefined && (/[A-Za-z_]/.test(c) || c.charCodeAt(0) >= 0x80)
const isWordPart = (c: string | undefined) => c !== undefined && (isWordStart(c) || /[0-9$]/.test(c))

/**
 * Splits PostgreSQL SQL into tokens the way the server's lexer does, as far as keys and table
 * detection need: strings with '' (and, in E'' strings, backslash) escapes, dollar-quoted bodies,
 * quoted identifiers, nested block comments. Never throws: an unterminated literal runs to the end.
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  const length = sql.length
  let i = 0
  const push = (kind: TokenKind, start: number, end: number, text = sql.slice(start, end)) => {
    tokens.push({ kind, text, start, end })
    i = end
  }

  while (i < length) {
    const c = sql[i]!
    const next = sql[i + 1]
    if (isSpace(c)) {
      i++
    } else if (c === '-' && next === '-') {
      const newline = sql.indexOf('\n', i)
      i = newline === -1 ? length : newline + 1
    } else if (c === '/' && next === '*') {
      i = blockCommentEnd(sql, i)
    } else if (c === "'") {
      push('string', i, quotedEnd(sql, i, "'", false))
    } else if (c === '"') {
      push('quoted', i, quotedEnd(sql, i, '"', false))
    } else if (/[eEbBxXnN]/.test(c) && next === "'") {
      // E'' strings are the only ones where a backslash escapes the quote.
      const end = quotedEnd(sql, i + 1, "'", c === 'e' || c === 'E')
      push('string', i, end, c.toLowerCase() + sql.slice(i + 1, end))
    } else if ((c === 'u' || c === 'U') && next === '&' && (sql[i + 2] === "'" || sql[i + 2] === '"')) {
      const quote = sql[i + 2]!
      const end = quotedEnd(sql, i + 2, quote, false)
      push(quote === "'" ? 'string' : 'quoted', i, end, `u&${sql.slice(i + 2, end)}`)
    } else if (c === '$') {
      const end = matchAt(PARAM, sql, i) ?? dollarQuotedEnd(sql, i)
      if (end === undefined) push('punct', i, i + 1)
      else push(sql[i + 1]! >= '0' && sql[i + 1]! <= '9' ? 'param' : 'dollar', i, end)
    } else if ((c >= '0' && c <= '9') || (c === '.' && next !== undefined && next >= '0' && next <= '9')) {
      const end = matchAt(NUMBER, sql, i)!
      push('number', i, end, sql.slice(i, end).toLowerCase())
    } else if (isWordStart(c)) {
      let end = i + 1
      while (isWordPart(sql[end])) end++
      push('word', i, end, foldIdentifier(sql.slice(i, end)))
    } else if (c === ':') {
      if (next === ':') push('op', i, i + 2)
      else if (next === '=') push('op', i, i + 2)
      else if (isWordStart(next)) {
        let end = i + 2
        while (isWordPart(sql[end]) && sql[end] !== '$') end++
        push('named', i, end)
      } else push('punct', i, i + 1)
    } else if (OPERATOR_CHARS.has(c)) {
      let end = i + 1
      // As in PostgreSQL, a comment start ends an operator: `a*/*x*/b` is `a * b`.
      while (
        end < length &&
        OPERATOR_CHARS.has(sql[end]!) &&
        !(sql[end] === '-' && sql[end + 1] === '-') &&
        !(sql[end] === '/' && sql[end + 1] === '*')
      )
        end++
      push('op', i, end)
    } else {
      push('punct', i, i + 1)
    }
  }
  return tokens
}

/**
 * PostgreSQL folds only A–Z in unquoted identifiers and keywords: `Été` is the table "Été", not "été",
 * and the Kelvin sign is not a K. String.toLowerCase() would merge such names.
 */
function foldIdentifier(word: string): string {
  return word.replace(/[A-Z]+/g, (letters) => letters.toLowerCase())
}

/** The end of a quoted run opened at `start`: a doubled quote is an escape, and so is a backslash in E''. */
function quotedEnd(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1
  while (i < sql.length) {
    const c = sql[i]
    if (backslashEscapes && c === '\\') i += 2
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2
      else return i + 1
    } else i++
  }
  return sql.length
}

/** Block comments nest in PostgreSQL. */
function blockCommentEnd(sql: string, start: number): number {
  let depth = 0
  let i = start
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++
      i += 2
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--
      i += 2
      if (depth === 0) return i
    } else i++
  }
  return sql.length
}

/** `$tag$ … $tag$`; undefined when `$` does not open a dollar quote here. */
function dollarQuotedEnd(sql: string, start: number): number | undefined {
  const end = matchAt(DOLLAR_TAG, sql, start)
  if (end === undefined) return undefined
  const tag = sql.slice(start, end)
  const close = sql.indexOf(tag, end)
  return close === -1 ? sql.length : close + tag.length
}

function matchAt(pattern: RegExp, sql: string, at: number): number | undefined {
  pattern.lastIndex = at
  return pattern.exec(sql) ? pattern.lastIndex : undefined
}

/** One canonical text per query: comments dropped, whitespace collapsed, words lowercased, literals kept. */
export function normalizeSql(sql: string): string {
  return tokenize(sql)
    .map((token) => token.text)
    .join(' ')
}
