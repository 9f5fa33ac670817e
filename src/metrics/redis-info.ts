import type { Cluster, Redis } from 'ioredis'

/** The INFO figures the Redis gauges show (seed 004 §9.4). */
export interface RedisInfoFigures {
  evictedKeys?: number
  connectedClients?: number
  opsPerSec?: number
  keys?: number
}

const number = (value: string | undefined) => (value === undefined ? undefined : Number(value))

/** INFO + DBSIZE within `timeoutMs`; undefined when Redis is not ready or does not answer in time. */
export async function readInfoFigures(
  redis: Redis | Cluster,
  timeoutMs: number,
): Promise<RedisInfoFigures | undefined> {
  if (redis.status !== 'ready') return undefined
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs)
  })
  const read = Promise.all([redis.info(), redis.dbsize()])
    .then(([info, keys]) => {
      const fields: Record<string, string> = {}
      for (const line of info.split('\r\n')) {
        const colon = line.indexOf(':')
        if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1)
      }
      return {
        evictedKeys: number(fields.evicted_keys),
        connectedClients: number(fields.connected_clients),
        opsPerSec: number(fields.instantaneous_ops_per_sec),
        keys,
      }
    })
    .catch(() => undefined)
  try {
    return await Promise.race([read, late])
  } finally {
    clearTimeout(timer)
  }
}
