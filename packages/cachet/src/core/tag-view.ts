import type { Engine } from './engine.js'
import { InvalidKeyError, InvalidOptionError } from './errors.js'
import { rewriteInPlace } from './rewrite-in-place.js'

/**
 * Tags you can see: the keys a tag reaches, how many, and tags added to an entry already stored. Keys
 * here are relative to the prefix; `scope` is a namespace view's key prefix ('' at the root). Redis is
 * the truth when there is one; an L1-only cache answers from L1.
 */

const DEFAULT_LIMIT = 100
const MAX_LIMIT = 1_000

/** One page of the keys (within `scope`, scope removed) of the live entries carrying `tag`. */
export async function tagKeysPage(
  engine: Engine,
  scope: string,
  tag: string,
  cursor = '0',
  limit = DEFAULT_LIMIT,
): Promise<{ keys: string[]; cursor: string }> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new InvalidOptionError(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`)
  }
  const inScope = (keys: string[]) =>
    keys.filter((key) => key.startsWith(scope)).map((key) => key.slice(scope.length))
  if (!engine.l2) {
    // L1 holds few keys: the cursor is an offset in their sorted list.
    if (!/^\d+$/.test(cursor)) throw new InvalidKeyError(`invalid tag cursor ${JSON.stringify(cursor)}`)
    const keys = inScope((engine.l1?.keysByTag(tag) ?? []).sort())
    const start = Number(cursor)
    const end = start + limit
    return { keys: keys.slice(start, end), cursor: end < keys.length ? String(end) : '0' }
  }
  const page = await engine.l2.tagPage(tag, cursor, limit)
  const relative = page.keys
    .map((key) => engine.relativeKey(key))
    .filter((key): key is string => key !== undefined)
  return { keys: inScope(relative), cursor: page.cursor }
}

/** How many live entries (within `scope`) carry `tag`: what invalidateTags would count. */
export async function countTag(engine: Engine, scope: string, tag: string): Promise<number> {
  if (engine.l2 && scope === '') return engine.l2.tagCount(tag)
  const seen = new Set<string>()
  let cursor = '0'
  do {
    const page = await tagKeysPage(engine, scope, tag, cursor, MAX_LIMIT)
    for (const key of page.keys) seen.add(key)
    cursor = page.cursor
  } while (cursor !== '0')
  return seen.size
}

/**
 * Adds tags to the entry stored under `key` (relative to the prefix): the entry is rewritten with
 * the union of its tags, indexed under the new ones, and keeps its value, version, freshness and grace.
 * False when there is no live entry (or Redis did not take the rewrite: it changed meanwhile, or is down).
 */
export function addTagsTo(engine: Engine, key: string, tags: readonly string[]): Promise<boolean> {
  return rewriteInPlace(engine, key, 'addTags', (stored, version) => {
    const merged = [...new Set([...stored.tags, ...tags])]
    if (merged.length === stored.tags.length) return undefined
    return { entry: { ...stored, version, tags: merged }, index: merged }
  })
}
