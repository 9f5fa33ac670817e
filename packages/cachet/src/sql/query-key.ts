import { hashKey, InvalidOptionError, stableStringify } from '../index.js'
import type { SqlParams } from './params.js'

const NAMESPACE = /^[A-Za-z0-9_.-]+$/

/** Throws unless `namespace` can start a cache key: letters, digits, '_', '-', '.', not '__…'. */
export function validateNamespace(namespace: string): void {
  if (!NAMESPACE.test(namespace) || namespace.startsWith('__')) {
    throw new InvalidOptionError(
      `namespace must be letters, digits, '_', '-' or '.' and not start with '__'; got ${JSON.stringify(namespace)}`,
    )
  }
}

/**
 * `${namespace}:${sha256(database identity + normalized SQL + stable JSON of params)}`, 32 hex chars.
 * Params are serialized with sorted object keys, so `{a:1,b:2}` and `{b:2,a:1}` share a key; no params,
 * `[]` and `{}` are the same query. The identity is JSON-quoted so that no identity can end inside the SQL.
 */
export function queryKey(
  namespace: string,
  identity: string,
  normalizedSql: string,
  params: SqlParams | undefined,
): string {
  const empty = params === undefined || Object.keys(params).length === 0
  const text = `${JSON.stringify(identity)}\n${normalizedSql}\n${empty ? 'null' : stableStringify(params)}`
  return `${namespace}:${hashKey(text, 32)}`
}

/** The tag every cached query reading `table` carries. */
export function tableTag(table: string): string {
  // Tags may not hold NUL/CR/LF; a quoted name with one merges with its neighbours, which only over-invalidates.
  return `table:${table.replace(/[\0\r\n]/g, ' ')}`
}
