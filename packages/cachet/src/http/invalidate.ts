import { type CacheApi, escapeGlob, InvalidOptionError } from '../index.js'
import { encodePrincipal } from './cache-key.js'
import { TYPE_PATTERN } from './cache-types.js'

/**
 * Deletes every cached response of a type (the replaced Flask cache's `invalidate_cache_type`); resolves
 * the count.
 */
export function invalidateType(cache: CacheApi, type: string): Promise<number> {
  return cache.deleteByPattern(`${checkType(type)}:*`)
}

/** Deletes cached responses whose key (relative to the prefix) matches a Redis glob pattern, e.g. 'search:*'. */
export function invalidatePattern(cache: CacheApi, pattern: string): Promise<number> {
  return cache.deleteByPattern(pattern)
}

/** Invalidates every cached response stored with one of these tags. */
export function invalidateTags(cache: CacheApi, tags: readonly string[]): Promise<number> {
  return cache.invalidateTags(tags)
}

/**
 * Deletes one user's cached responses (scope 'user'), of every type or of one. The id is matched
 * literally: glob characters in it are escaped, so it can never reach another user's keys.
 */
export function invalidateUser(
  cache: CacheApi,
  userId: string | number,
  options: { type?: string } = {},
): Promise<number> {
  if (userId === '' || userId === null || userId === undefined)
    throw new InvalidOptionError('invalidateUser needs a user id')
  const type = options.type === undefined ? '*' : checkType(options.type)
  return cache.deleteByPattern(`${type}:u:${escapeGlob(encodePrincipal(String(userId)))}:*`)
}

function checkType(type: string): string {
  if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) {
    throw new InvalidOptionError(`not a cache type: ${JSON.stringify(type)}`)
  }
  // '.' and '-' are literal in a glob outside brackets, but escape anyway: the type is matched literally.
  return escapeGlob(type)
}
