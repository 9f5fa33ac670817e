/** `cachet/redis`: the Redis tier, its connection settings and its guard, for custom compositions. */
export { type ConnectOptions, connectRedis, type RedisConnection, type RedisEvent } from './client.js'
export { type CircuitState, L2Guard, type L2GuardOptions } from './guard.js'
export { parseInfo, type RedisFigures, readRedisFigures } from './info.js'
export { RedisTier, type RedisTierOptions } from './redis-tier.js'
export { isSentinelUrl, parseSentinelUrl } from './sentinel-url.js'
