/** `cachet/entities`: an entity cache in Redis hashes, with stream sync and a prewarmer. */
export { createEntityCache } from './entity-cache.js'
export { type PrewarmCursorStore, redisCursorStore } from './prewarm-cursor.js'
export {
  createPrewarmer,
  type Prewarmer,
  type PrewarmerOptions,
  type PrewarmProgress,
  type PrewarmResult,
} from './prewarmer.js'
export { createStreamConsumer } from './stream-consumer.js'
export type {
  EntityEventHandler,
  StreamConsumer,
  StreamConsumerEvents,
  StreamConsumerOptions,
  StreamConsumerStats,
} from './stream-consumer-types.js'
export { type EntityEvent, type PublishOptions, publishEntityEvent } from './stream-events.js'
export type { ResetReason } from './stream-health.js'
export type {
  EntityCache,
  EntityCacheOptions,
  EntityCacheStats,
  EntityRedisInput,
  EntitySchema,
  WarmResult,
} from './types.js'
