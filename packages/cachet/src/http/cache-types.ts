import type { Duration } from '../index.js'

/**
 * The cache types of the Flask `@cache_response` decorator cachet replaces, and their freshness:
 * dashboard 5 min, search 1 h, user 30 min, product 2 h, analytics 10 min.
 */
export const DEFAULT_CACHE_TYPES: Readonly<Record<string, Duration>> = Object.freeze({
  dashboard: '300s',
  search: '3600s',
  user: '1800s',
  product: '7200s',
  analytics: '600s',
})

/** A type name becomes the first key segment, so it may not contain ':' or glob characters. */
export const TYPE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/
