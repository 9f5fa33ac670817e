import { InvalidOptionError } from '../index.js'
import type { Token } from './tokenizer.js'

/** Positional values for $1, $2…, or named values for :name placeholders. */
export type SqlParams = readonly unknown[] | Readonly<Record<string, unknown>>

/** A statement ready for the driver: text with $n placeholders and their values. */
export interface BoundSql {
  text: string
  values: unknown[] | undefined
}

/**
 * Arrays pass through. An object binds `:name` placeholders to `$n` (the same name reuses its number);
 * a `:name` with no such key is left alone (it may be an array slice `a[1:n]`), and a key the SQL never
 * uses is an error: it is almost always a typo, and it would split the cache key for nothing.
 */
export function bindParams(sql: string, tokens: readonly Token[], params: SqlParams | undefined): BoundSql {
  if (params === undefined) return { text: sql, values: undefined }
  if (Array.isArray(params)) return { text: sql, values: [...params] }
  const named = params as Readonly<Record<string, unknown>>
  const numbers = new Map<string, number>()
  const values: unknown[] = []
  let text = ''
  let copied = 0
  for (const token of tokens) {
    if (token.kind !== 'named') continue
    const name = sql.slice(token.start + 1, token.end)
    if (!Object.hasOwn(named, name)) continue
    let number = numbers.get(name)
    if (number === undefined) {
      values.push(named[name])
      number = values.length
      numbers.set(name, number)
    }
    text += `${sql.slice(copied, token.start)}$${number}`
    copied = token.end
  }
  const unused = Object.keys(named).filter((name) => !numbers.has(name))
  if (unused.length > 0) {
    throw new InvalidOptionError(
      `SQL parameter${unused.length > 1 ? 's' : ''} ${unused.map((name) => `:${name}`).join(', ')} not found in the query`,
    )
  }
  return { text: text + sql.slice(copied), values }
}
