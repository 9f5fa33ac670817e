import type { ServerResources } from './resources.js'

/** The lines printed when the server is ready: where it listens, the admin token, what Redis it uses. */
export function banner(baseUrl: string, resources: ServerResources, startupMs: number): string {
  const { redis, seed, db } = resources
  const redisLine =
    redis.kind === 'embedded'
      ? `embedded redis-server at ${redis.url} (pid ${redis.process.pid}; maxmemory 256mb, allkeys-lru, no persistence; stopped with the server)`
      : redis.kind === 'external'
        ? `external Redis at ${redactUrl(redis.url)}`
        : `NONE: running L1-only (in-process memory cache, nothing shared between instances): ${redis.reason}. Install redis-server or set REDIS_URL.`
  const token = resources.adminTokenGenerated
    ? `${resources.adminToken}   (generated; set CACHET_ADMIN_TOKEN to choose one)`
    : '(from CACHET_ADMIN_TOKEN)'
  return [
    '',
    `cachet demo server ready in ${(startupMs / 1000).toFixed(1)} s`,
    '',
    `  API          ${baseUrl}/api/dashboard   ${baseUrl}/api/search?q=error   ${baseUrl}/api/me/dashboard`,
    `  Dashboard    ${baseUrl}/cache`,
    `  Admin API    ${baseUrl}/api/cache/stats`,
    `  Metrics      ${baseUrl}/metrics`,
    `  Admin token  ${token}`,
    `  Redis        ${redisLine}`,
    `  Database     ${db.kind === 'pglite' ? 'PGlite (in memory)' : 'PostgreSQL (DATABASE_URL)'}, logs: ${seed.rows.toLocaleString('en-US')} rows${seed.created ? ` generated in ${(seed.durationMs / 1000).toFixed(1)} s` : ' (existing table)'}`,
    '',
    `  Try: curl -i ${baseUrl}/api/dashboard   (twice: X-Cache MISS, then HIT)`,
    '',
  ].join('\n')
}

/** Hides a password in a Redis URL before printing it. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return url
  }
}
