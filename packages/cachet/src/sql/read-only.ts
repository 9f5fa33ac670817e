import { identifierAt } from './identifier.js'
import type { Token } from './tokenizer.js'

/** Whether query() may cache a statement, and if not, why. */
export type ReadVerdict =
  | { cacheable: true }
  /** `effects`: it writes or changes state (refused as a mutation); else its result changes on every run. */
  | { cacheable: false; effects: boolean; reason: string }

// The statements whose only job is to return rows. Anything else (SET, CALL, DO, COPY, LOCK, GRANT,
// CREATE … AS, SHOW, VACUUM…) is refused: a new kind of statement is not cached until it is known to be a read.
const READ_STATEMENTS = new Set(['select', 'with', 'values', 'table'])

// Functions that change something (sequences, settings, locks, notifications, large objects, other
// databases, transaction ids, the session's random seed) — calling them from a cached read would skip
// the effect on every hit. A name matches exactly or, ending in '*', by prefix.
const EFFECT_FUNCTIONS = [
  'nextval',
  'setval',
  'set_config',
  'setseed',
  'pg_notify',
  'txid_current',
  'pg_current_xact_id',
  'pg_advisory*',
  'pg_try_advisory*',
  'lo_*',
  'dblink*',
  'pg_cancel_backend',
  'pg_terminate_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_switch_wal',
  'pg_create_*',
  'pg_drop_replication_slot',
  'pg_copy_*',
  'pg_replication_origin_*',
  'pg_replication_slot_advance',
  'pg_logical_slot_get_*',
  'pg_logical_emit_message',
  'pg_stat_reset*',
  'pg_backup_*',
  'pg_promote',
  'pg_wal_replay_*',
  'pg_import_system_collations',
  'pg_log_backend_memory_contexts',
]

// Volatile functions without effects: each run answers differently, so a cached answer is a wrong one.
// now(), current_timestamp and friends are stable (fixed for the transaction): a cached result reads
// as of the time it was loaded, like every cached row.
const VOLATILE_FUNCTIONS = [
  'random',
  'random_normal',
  'gen_random_uuid',
  'uuid_generate_*',
  'clock_timestamp',
  'timeofday',
  'currval',
  'lastval',
]

// EXPLAIN's options without parentheses (the old syntax).
const EXPLAIN_WORDS = new Set(['analyze', 'analyse', 'verbose'])
const LOCKING_STRENGTH = new Set(['update', 'share', 'no', 'key'])
const DATA_MODIFYING = new Set(['insert', 'update', 'delete', 'merge'])

const matcher = (names: readonly string[]) => (name: string) =>
  names.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry))
const hasEffects = matcher(EFFECT_FUNCTIONS)
const isVolatile = matcher(VOLATILE_FUNCTIONS)

/**
 * An allowlist: every statement of the text must be SELECT, WITH … SELECT, VALUES, TABLE, or EXPLAIN
 * (without ANALYZE) of one of those; none may write a table (`writes`, from the table finder), lock rows
 * (FOR UPDATE / SHARE), create one (SELECT … INTO), modify data in a CTE, or call a function with effects
 * or a volatile one. User-defined functions are not known here: call those through execute().
 */
export function readVerdict(tokens: readonly Token[], writes: readonly string[]): ReadVerdict {
  if (writes.length > 0) return refuse(true, `writes ${writes.join(', ')}`)
  const all = statements(tokens)
  if (all.length === 0) return refuse(true, 'is empty')
  for (const statement of all) {
    const verdict = statementVerdict(statement)
    if (!verdict.cacheable) return verdict
  }
  return { cacheable: true }
}

function statementVerdict(tokens: readonly Token[]): ReadVerdict {
  let i = 0
  while (tokens[i]?.text === '(') i++
  if (tokens[i]?.kind === 'word' && tokens[i]!.text === 'explain') {
    i++
    const options: string[] = []
    if (tokens[i]?.text === '(') {
      for (i++; i < tokens.length && tokens[i]!.text !== ')'; i++) options.push(tokens[i]!.text)
      i++
    } else {
      while (tokens[i]?.kind === 'word' && EXPLAIN_WORDS.has(tokens[i]!.text)) options.push(tokens[i++]!.text)
    }
    if (options.includes('analyze') || options.includes('analyse')) {
      return refuse(true, 'EXPLAIN ANALYZE runs the statement')
    }
    while (tokens[i]?.text === '(') i++
  }
  const first = tokens[i]
  if (first?.kind !== 'word' || !READ_STATEMENTS.has(first.text)) {
    return refuse(
      true,
      `is not a read statement (it starts with ${first ? first.text.toUpperCase() : 'nothing'})`,
    )
  }
  for (let at = i; at < tokens.length; at++) {
    const token = tokens[at]!
    const next = tokens[at + 1]
    if (token.kind === 'word') {
      if (token.text === 'into') return refuse(true, 'SELECT … INTO creates a table')
      if (token.text === 'for' && next?.kind === 'word' && LOCKING_STRENGTH.has(next.text)) {
        return refuse(true, 'FOR UPDATE / FOR SHARE locks rows')
      }
      if (token.text === 'tablesample') return refuse(false, 'TABLESAMPLE returns a random sample')
    }
    if (
      token.text === '(' &&
      token.kind === 'punct' &&
      next?.kind === 'word' &&
      DATA_MODIFYING.has(next.text)
    ) {
      return refuse(true, `modifies data in a subquery (${next.text.toUpperCase()})`)
    }
    const ref = identifierAt(tokens, at)
    if (ref && tokens[ref.next]?.text === '(') {
      const verdict = functionVerdict(ref.name)
      if (!verdict.cacheable) return verdict
    }
  }
  return { cacheable: true }
}

/** Whether a read calling the function `name` (unqualified) may be cached. */
export function functionVerdict(name: string): ReadVerdict {
  if (hasEffects(name)) return refuse(true, `calls ${name}(), which has effects`)
  if (isVolatile(name)) return refuse(false, `calls ${name}(), which answers differently each time`)
  return { cacheable: true }
}

/** The statements of a text, split at top-level semicolons; empty ones dropped. */
function statements(tokens: readonly Token[]): Token[][] {
  const result: Token[][] = [[]]
  let depth = 0
  for (const token of tokens) {
    if (token.kind === 'punct' && token.text === '(') depth++
    else if (token.kind === 'punct' && token.text === ')') depth--
    if (token.kind === 'punct' && token.text === ';' && depth <= 0) result.push([])
    else result[result.length - 1]!.push(token)
  }
  return result.filter((statement) => statement.length > 0)
}

export function refuse(effects: boolean, reason: string): ReadVerdict {
  return { cacheable: false, effects, reason }
}
