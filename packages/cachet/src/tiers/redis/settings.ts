import type { Cluster, Redis } from 'ioredis'
import { valueWithin } from '../../core/timeouts.js'
import type { RedisSettings } from '../../core/types.js'
import { parseInfo } from './info.js'

/** Redis's answer to a command it will not run for this user or does not know (ACL, managed Redis). */
const REFUSED = /NOPERM|unknown command|ERR/

/**
 * Reads INFO memory + persistence and CONFIG GET save. Resolves undefined when INFO is refused (a
 * least-privilege ACL user): the advisor then judges the options only. Rejects when Redis does not
 * answer (a timeout, a lost connection), so the caller may try again. On a Cluster the commands go to
 * one node, which is taken to speak for all.
 */
export async function readRedisSettings(
  client: Redis | Cluster,
  timeoutMs: number,
): Promise<RedisSettings | undefined> {
  let info: string
  try {
    info = (await client.call('INFO', 'memory', 'persistence')) as string
  } catch (error) {
    if (error instanceof Error && REFUSED.test(error.message)) return undefined
    throw error
  }
  const fields = parseInfo(info)
  const save = await valueWithin(client.call('CONFIG', 'GET', 'save') as Promise<string[]>, timeoutMs)
  return {
    maxMemory: Number(fields.maxmemory ?? 0),
    evictionPolicy: fields.maxmemory_policy ?? 'unknown',
    aof: fields.aof_enabled === '1',
    ...(Array.isArray(save) && save.length === 2 ? { rdbSave: String(save[1]) } : {}),
  }
}
