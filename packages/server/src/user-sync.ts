import { hostname } from 'node:os'
import type { CacheApi } from 'cachet'
import {
  createEntityCache,
  createPrewarmer,
  createStreamConsumer,
  type EntityCache,
  type Prewarmer,
  publishEntityEvent,
  redisCursorStore,
  type StreamConsumer,
} from 'cachet/entities'
import { connectRedis } from 'cachet/redis'
import type { Logger } from 'pino'
import type { Database } from './database.js'
import { countLoad } from './load-tracker.js'
import { openUserOutbox, type UserOutbox } from './user-outbox.js'
import { activeUserIds, findUser, findUsers, type UserProfile, userProfileSchema } from './user-profiles.js'

/** Seed 002's stream of user events. */
export const USER_EVENTS_STREAM = 'events:users'
/** Consumer group of the demo server: its instances share one entity cache, so they share the group. */
export const USER_EVENTS_GROUP = 'cachet-demo'
const RETRY_START_MS = 2_000
/** Where the prewarmer's cursor lives (durable Redis), so a restarted server resumes its warm-up. */
export const PREWARM_CURSOR_KEY = 'cachet-demo:prewarm:user-profiles'

/** The entity cache of user profiles, the stream consumer that keeps it in sync, and the prewarmer. */
export interface UserSync {
  users: EntityCache<UserProfile>
  consumer: StreamConsumer
  /** The consumer's name within the group. */
  consumerName: string
  /** Warms the profiles of users active in the last 7 days, in batches (seed 002 scenario 4). */
  prewarmer: Prewarmer
  /**
   * Delivers the events queued with each profile change to events:users (XADD), at once or, while
   * Redis is down, when it is back.
   */
  outbox: UserOutbox
  /** Stops the outbox and the consumer, then closes the entity cache and the publishing connection. */
  close(): Promise<void>
}

/**
 * Opens seed 002's user cache on the cache's Redis (sharing the engine's connection), with the demo database as the owning
 * service: misses are loaded from `user_profiles`, and profile changes arrive through the events:users
 * stream, kept on the Redis at `streamUrl`, which does not evict. The consumer is started before this
 * resolves; if Redis refuses, it retries in the background rather than failing the server's start.
 */
export async function openUserSync(
  cache: CacheApi,
  streamUrl: string,
  db: Database,
  logger: Logger,
): Promise<UserSync> {
  const users = createEntityCache<UserProfile>({
    // The engine's connection, deadline and circuit breaker: one view of the cache's Redis.
    cache,
    entity: 'user:profile',
    ttl: '1h',
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
  const outbox = openUserOutbox(
    db,
    (event) => publishEntityEvent(publisher.client, USER_EVENTS_STREAM, event),
    logger,
  )
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
    // One prewarmer, its cursor in the durable Redis: a cancelled warm-up (a restart) resumes there.
    // 100 ms between batches, not seed 002's 1.5 s: the "owning service" is this process's database.
    prewarmer: createPrewarmer({
      entityCache: users,
      ids: () => activeUserIds(db, 7),
      pauseMs: 100,
      cursorStore: redisCursorStore(publisher.client, PREWARM_CURSOR_KEY),
    }),
    outbox,
    async close() {
      closed = true
      clearTimeout(retry)
      // Each step runs even if an earlier one failed.
      const steps = [() => outbox.stop(), () => consumer.stop(), () => users.close(), () => publisher.close()]
      for (const step of steps) {
        await step().catch((error: Error) => logger.debug({ err: error }, 'user sync close step failed'))
      }
    },
  }
}
