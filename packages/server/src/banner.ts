import type { SeedResult } from './demo-data.js'
import type { DurableRedisSource, ServerResources } from './resources.js'

/** The lines printed when the server is ready: where it listens, the admin token, what Redis it uses. */
export function banner(baseUrl: string, resources: ServerResources, startupMs: number): string {
  const { redis, seed, shopSeed, userSeed, db, userSync } = resources
  const redisLine =
    redis.kind === 'embedded'
      ? `embedded redis-server at ${redis.url} (pid ${redis.process.pid}; maxmemory ${redis.maxMemory}, allkeys-lru, no persistence; stopped with the server)`
      : redis.kind === 'external'
        ? `external Redis at ${redactUrl(redis.url)}`
        : `NONE: running L1-only (in-process memory cache, nothing shared between instances): ${redis.reason}. Install redis-server or set REDIS_URL.`
  const usersLine = userSync
    ? `entity cache ${userSync.users.keyOf('{id}')}, synced from stream events:users (group cachet-demo, consumer ${userSync.consumerName})`
    : 'NO entity cache and NO stream consumer (they need Redis): /api/users/* read straight from the database'
  const token = resources.adminTokenGenerated
    ? `${resources.adminToken}   (generated; set CACHET_ADMIN_TOKEN to choose one)`
    : '(from CACHET_ADMIN_TOKEN)'
  return [
    '',
    `cachet demo server ready in ${(startupMs / 1000).toFixed(1)} s`,
    '',
    `  API          ${baseUrl}/api/dashboard   ${baseUrl}/api/search?q=error   ${baseUrl}/api/me/dashboard`,
    `               ${baseUrl}/api/dashboard/revenue?period=30d   POST ${baseUrl}/api/orders`,
    `               ${baseUrl}/api/users/42   ${baseUrl}/api/users/batch?ids=1,2,3   PUT ${baseUrl}/api/users/42`,
    `  Dashboard    ${baseUrl}/cache`,
    `  Admin API    ${baseUrl}/api/cache/stats`,
    `  Metrics      ${baseUrl}/metrics`,
    `  Admin token  ${token}`,
    `  Redis        ${redisLine}`,
    `  Durable      ${durableLine(resources.durableRedis)}`,
    `  Users        ${usersLine}`,
    `  Database     ${db.kind === 'pglite' ? 'PGlite (in memory)' : 'PostgreSQL (DATABASE_URL)'}, ${seedText('logs', seed)}`,
    `               ${seedText('order_items', shopSeed)} (+ orders, products, customers), ${seedText('user_profiles', userSeed)}`,
    '',
    `  Try: curl -i ${baseUrl}/api/dashboard   (twice: X-Cache MISS, then HIT)`,
    '',
  ].join('\n')
}

/** Where the audit log and the event streams live. */
function durableLine(durable: DurableRedisSource): string {
  const what = 'audit log and event streams'
  switch (durable.kind) {
    case 'embedded':
      return `${what} in an embedded redis-server at ${durable.url} (pid ${durable.process.pid}; noeviction, appendonly everysec; stopped with the server)`
    case 'external':
      return `${what} in the Redis at ${redactUrl(durable.url)} (CACHET_DURABLE_REDIS_URL)`
    case 'shared':
      return `WARNING: ${what} share the cache's Redis, whose eviction can drop them (${durable.reason}). Set CACHET_DURABLE_REDIS_URL to a Redis with noeviction`
    case 'absent':
      return `none: the ${what} are kept in memory (no Redis)`
  }
}

/** `logs: 300,000 rows generated in 2.1 s`, or `(existing table)` when it was left as found. */
function seedText(table: string, seed: SeedResult): string {
  const how = seed.created ? `generated in ${(seed.durationMs / 1000).toFixed(1)} s` : '(existing table)'
  return `${table}: ${seed.rows.toLocaleString('en-US')} rows ${how}`
}

/** Hides a password in a Redis URL before printing it. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    // A Sentinel URL (redis+sentinel://h1:p1,h2:p2/name) is not one WHATWG URL can parse.
    return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
  }
}
