import { hostname } from 'node:os'
import {
  createEntityCache,
  createPrewarmer,
  createStreamConsumer,
  type EntityCache,
  type Prewarmer,
  publishEntityEvent,
  type StreamConsumer,
} from 'cachet/entities'
import { connectRedis } from 'cachet/redis'
import type { Logger } from 'pino'
import type { Database } from './database.js'
import { countLoad } from './load-tracker.js'
import { activeUserIds, findUser, findUsers, type UserProfile, userProfileSchema } from './user-profiles.js'

/** Seed 002's stream of user events. */
export const USER_EVENTS_STREAM = 'events:users'
/** Consumer group of the demo server: its instances share one entity cache, so they share the group. */
export const USER_EVENTS_GROUP = 'cachet-demo'
const RETRY_START_MS = 2_000

/** The entity cache of user profiles, the stream consumer that keeps it in sync, and the prewarmer. */
export interface UserSync {
  users: EntityCache<UserProfile>
  consumer: StreamConsumer
  /** The consumer's name within the group. */
  consumerName: string
  /** Warms the profiles of users active in the last 7 days, in batches (seed 002 scenario 4). */
  prewarmer: Prewarmer
  /** XADD `user.profile.updated` on events:users, as the owning service does after its write. */
  publishUpdate(user: UserProfile): Promise<string>
  /** Stops the consumer, then closes the entity cache and the publishing connection. */
  close(): Promise<void>
}

/**
 * Opens seed 002's user cache on the cache's Redis at `url`, with the demo database as the owning
 * service: misses are loaded from `user_profiles`, and profile changes arrive through the events:users
 * stream, kept on the Redis at `streamUrl`, which does not evict. The consumer is started before this
 * resolves; if Redis refuses, it retries in the background rather than failing the server's start.
 */
export async function openUserSync(
  url: string,
  streamUrl: string,
  db: Database,
  logger: Logger,
): Promise<UserSync> {
  const users = createEntityCache<UserProfile>({
    redis: url,
    entity: 'user:profile',
    ttl: '1h',
    // Same reason as the engine's l2 timeout: PGlite queries block the event loop for tens of ms.
    timeout: '1s',
    schema: userProfileSchema,
    fetchOne: async (id) => {
      countLoad()
      return findUser(db, id)
    },
    fetchMany: async (ids) => {
      countLoad(ids.length)
      return findUsers(db, ids)
    },
  })
  const consumerName = `${hostname()}-${process.pid}`
  const consumer = createStreamConsumer({
    redis: streamUrl,
    stream: USER_EVENTS_STREAM,
    group: USER_EVENTS_GROUP,
    consumer: consumerName,
    entityCache: users,
  })
  // Failures repeat every 250 ms while Redis is down: debug, not warn, or the log drowns.
  consumer.on('error', ({ error }) => logger.debug({ err: error }, 'user stream consumer error'))
  consumer.on('reset', (reset) => logger.warn(reset, 'user entity cache flushed and resynced'))
  consumer.on('dead-letter', (entry) => logger.warn(entry, 'user event dead-lettered'))

  const publisher = connectRedis(streamUrl, { timeoutMs: 1_000 })
  let closed = false
  let retry: NodeJS.Timeout | undefined
  const start = () =>
    consumer.start().catch((error: Error) => {
      if (closed) return
      logger.warn({ err: error }, 'user stream consumer could not start; retrying')
      retry = setTimeout(start, RETRY_START_MS)
      retry.unref()
    })
  // Awaited once, so the group exists (reading from '$') before the first PUT can publish an event.
  await start()

  return {
    users,
    consumer,
    consumerName,
    // One prewarmer for the process, so a cancelled warm-up resumes at its cursor on the next run.
    // 100 ms between batches, not seed 002's 1.5 s: the "owning service" is this process's database.
    prewarmer: createPrewarmer({ entityCache: users, ids: () => activeUserIds(db, 7), pauseMs: 100 }),
    publishUpdate: (user) =>
      publishEntityEvent(publisher.client, USER_EVENTS_STREAM, {
        type: 'user.profile.updated',
        id: user.id,
        payload: user,
        version: user.updatedAt,
      }),
    async close() {
      closed = true
      clearTimeout(retry)
      // Each step runs even if an earlier one failed.
      for (const step of [() => consumer.stop(), () => users.close(), () => publisher.close()]) {
        await step().catch((error: Error) => logger.debug({ err: error }, 'user sync close step failed'))
      }
    },
  }
}
