import type { Cluster, Redis } from 'ioredis'
import type { RedisFigures } from '../../core/cache-api.js'
import { figuresFrom } from '../../core/redis-figures.js'
import { valueWithin } from '../../core/timeouts.js'

/** Parses the text of Redis INFO (`field:value` lines, `# Section` headers) into a flat record. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return fields
}

export type { RedisFigures }

/**
 * Reads INFO and DBSIZE within `timeoutMs`, for the admin API and the metrics; resolves undefined
 * when the client is not ready or Redis does not answer in time (a scrape must never hang).
 */
export async function readRedisFigures(
  redis: Redis | Cluster,
  timeoutMs: number,
): Promise<RedisFigures | undefined> {
  if (redis.status !== 'ready') return undefined
  const read = (async () => {
    const [info, dbSize] = await Promise.all([redis.info(), redis.dbsize()])
    return figuresFrom(parseInfo(info), dbSize)
  })()
  return valueWithin(read, timeoutMs)
}
