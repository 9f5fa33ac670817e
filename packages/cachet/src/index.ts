/** cachet: a caching layer for Node.js services on Redis. */

export { ADVICE_CODES, type Advice, type AdviceCode, type AdvisorOption } from './core/advisor.js'
export { Cache } from './core/cache.js'
export type {
  BatchLoader,
  BatchLoaderContext,
  CacheApi,
  CacheEvents,
  CacheHealth,
  CacheResult,
  CacheStats,
  Counters,
  KeyDetails,
  KeyInfo,
  Loader,
  LoaderContext,
  RetryCounts,
  RetryResult,
  StaleReason,
  Tier,
} from './core/cache-api.js'
export type { Duration } from './core/duration.js'
export { toMs } from './core/duration.js'
export {
  CacheClosedError,
  CachetError,
  CorruptEntryError,
  errors,
  InvalidKeyError,
  InvalidOptionError,
  L2Error,
  LoaderFailedError,
  LoaderTimeoutError,
  SchemaMismatchError,
  SerializationError,
  UndefinedValueError,
} from './core/errors.js'
export { escapeGlob, hashKey, stableStringify } from './core/keys.js'
export type {
  AdaptiveTtlRule,
  CacheOptions,
  CallOptions,
  GetOptions,
  L1Invalidation,
  RedisInput,
  SchemaOptions,
  StoreOptions,
  TtlRule,
} from './core/options.js'
export { SEED_ADAPTIVE_TTL, SEED_RETRY, SEED_TTL_RULES } from './core/options.js'
export type { Migrate } from './core/schema-option.js'
export {
  type CacheOperationMessage,
  TRACED_OPERATIONS,
  type TracedOperation,
} from './core/tracing.js'
export type { Serializer } from './core/types.js'
export { argumentsKey, cached, type WrapOptions } from './core/wrap.js'
export { createCache } from './create-cache.js'
