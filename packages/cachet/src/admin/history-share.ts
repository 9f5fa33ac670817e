import type { Cluster, Redis } from 'ioredis'
import { valueWithin } from '../core/timeouts.js'
import type { HistoryPoint } from './history.js'

/** One instance's series, as GET /history?instance=all answers it. */
export interface InstanceSeries {
  instance: string
  /** True for the instance that answered the request. */
  self: boolean
  points: HistoryPoint[]
}

/**
 * Where instances sharing one Redis publish their history, so any of them can show all of them:
 * each instance keeps its points in a capped list `${prefix}:__history:<instance>` and its id in the
 * sorted set `${prefix}:__history` (scored by when its entry expires). Both expire on their own when
 * an instance stops publishing, so a dead instance drops out within `ttlMs`.
 */
export interface HistoryShare {
  /** Appends one point of `instance` (keeping `capacity` points) and renews its liveness. */
  publish(instance: string, point: HistoryPoint): Promise<void>
  /** The ids of the instances that published within their TTL, at most `MAX_INSTANCES`. */
  live(): Promise<string[]>
  /** The points `instance` published, oldest first ([] when none or unreadable). */
  read(instance: string): Promise<HistoryPoint[]>
  /** Removes `instance` (on close), so it leaves the list at once rather than after its TTL. */
  remove(instance: string): Promise<void>
}

/** Instances listed at most: bounds the answer of `?instance=all` (16 × 180 points). */
export const MAX_INSTANCES = 16

export function createHistoryShare(
  redis: Redis | Cluster,
  prefix: string,
  options: { capacity: number; ttlMs: number; timeoutMs: number },
): HistoryShare {
  const index = `${prefix}:__history`
  const listKey = (instance: string) => `${index}:${instance}`
  const { capacity, ttlMs, timeoutMs } = options

  return {
    async publish(instance, point) {
      const now = Date.now()
      // Two single-key transactions: works the same on a Cluster, where the keys may sit on two nodes.
      const list = redis
        .multi()
        .rpush(listKey(instance), JSON.stringify(point))
        .ltrim(listKey(instance), -capacity, -1)
        .pexpire(listKey(instance), ttlMs)
        .exec()
      const members = redis
        .multi()
        .zadd(index, now + ttlMs, instance)
        .zremrangebyscore(index, '-inf', now)
        .pexpire(index, ttlMs)
        .exec()
      await valueWithin(Promise.all([list, members]), timeoutMs)
    },
    async live() {
      const ids = await valueWithin(
        redis.zrangebyscore(index, Date.now(), '+inf', 'LIMIT', 0, MAX_INSTANCES),
        timeoutMs,
      )
      return ids ?? []
    },
    async read(instance) {
      const items = await valueWithin(redis.lrange(listKey(instance), 0, -1), timeoutMs)
      const points: HistoryPoint[] = []
      for (const item of items ?? []) {
        try {
          points.push(JSON.parse(item) as HistoryPoint)
        } catch {
          // An item that is not JSON (not written by cachet) is skipped, not a failure of the page.
        }
      }
      return points
    },
    async remove(instance) {
      await valueWithin(Promise.all([redis.zrem(index, instance), redis.del(listKey(instance))]), timeoutMs)
    },
  }
}
