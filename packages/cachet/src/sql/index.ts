/** cachet/sql: the SQL `QueryCache` cachet replaces, on the cachet engine, for pg and PGlite. */

export { sqlTables } from './analyze.js'
export { type CachedQueryOptions, cachedQuery } from './cached-query.js'
export type { Driver, Queryable, SqlResult } from './driver.js'
export { DatabaseIdentityError, MutationInQueryError, UncacheableQueryError } from './errors.js'
export {
  createInvalidationStream,
  type InvalidationEntry,
  type InvalidationRule,
  type InvalidationStream,
  type InvalidationStreamHealth,
  type InvalidationStreamOptions,
  type InvalidationStreamStats,
  type InvalidationTargets,
} from './event-invalidation.js'
export type { ListenerHealth } from './listener.js'
export type { SqlParams } from './params.js'
export type { SqlParserStatus } from './pg-parser.js'
export {
  createQueryCache,
  type ExecuteOptions,
  QueryCache,
  type QueryCacheHealth,
  type QueryCacheOptions,
  type QueryOptions,
  type SqlTransaction,
  type WarmUpQuery,
  type WarmUpResult,
} from './query-cache.js'
export { queryKey, tableTag } from './query-key.js'
export type { QueryCacheStats, QueryFigures } from './query-stats.js'
export { type ScheduledWarmUp, type ScheduledWarmUpOptions, scheduleWarmUp } from './scheduled-warm-up.js'
export { tableName } from './table-name.js'
export type { SqlTables } from './tables.js'
export { normalizeSql, type Token, tokenize } from './tokenizer.js'
export { type InvalidationTriggerOptions, installInvalidationTriggers } from './triggers.js'
