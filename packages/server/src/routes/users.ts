import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { z } from 'zod'
import type { Database } from '../database.js'
import { trackLoads } from '../load-tracker.js'
import { findUser, findUsers, type UserProfile, updateUser, updateUserWithEvent } from '../user-profiles.js'
import { USER_EVENTS_STREAM, type UserSync } from '../user-sync.js'
import { badRequest, MAX_INT } from '../validation.js'
import type { WriteAccess } from '../write-access.js'

const MAX_BATCH = 100

// Messages leave out the field: badRequest() prefixes the path (`ids.3: must be …`).
const userId = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/, 'must be a positive integer')
  .refine((id) => Number(id) <= MAX_INT, 'is too large for a user id')

const paramsSchema = z.object({ id: userId })

const batchSchema = z.strictObject({
  ids: z
    .string({ error: 'must be one comma-separated list, e.g. ids=1,2,3' })
    .transform((list) => list.split(','))
    .pipe(z.array(userId).max(MAX_BATCH, `must hold at most ${MAX_BATCH} ids`)),
})

// Only for a body that is not an object: unknown keys keep zod's message, which names them.
const BODY_SHAPE = 'the body must be a JSON object with fullName, avatar or ministere'

const changesSchema = z
  .strictObject(
    {
      fullName: z
        .string({ error: 'must be a string' })
        .trim()
        .min(1, 'must not be empty')
        .max(100, 'must be at most 100 characters')
        .optional(),
      avatar: z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL or null' })
        .max(500, 'must be at most 500 characters')
        .nullable()
        .optional(),
      ministere: z
        .string({ error: 'must be a string' })
        .trim()
        .min(1, 'must not be empty')
        .max(20, 'must be at most 20 characters')
        .optional(),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? BODY_SHAPE : undefined) },
  )
  .refine((changes) => Object.keys(changes).length > 0, 'the body must change fullName, avatar or ministere')

const notFound = (reply: FastifyReply, id: string) =>
  reply.code(404).send({ error: 'E_NOT_FOUND', message: `user ${id} does not exist` })

/**
 * Seed 002's user routes. Reads go through the entity cache (fallback: the database, the "owning
 * service"); PUT (by the user themselves, or the admin) writes the database with its event in an
 * outbox, updates the cache, and publishes `user.profile.updated` on events:users, which every
 * instance's stream consumer applies to the cache. Without Redis (`sync` absent) reads go straight to
 * the database and say X-Cache: BYPASS.
 */
export const usersRoute: FastifyPluginAsync<{ db: Database; sync?: UserSync; access: WriteAccess }> = async (
  app,
  { db, sync, access },
) => {
  app.get('/api/users/batch', async (request, reply) => {
    const parsed = batchSchema.safeParse(request.query)
    if (!parsed.success) return badRequest(reply, parsed.error)
    const ids = [...new Set(parsed.data.ids)]
    const { value: found, loaded } = await trackLoads(async () =>
      sync ? sync.users.batchGet(ids) : byId(await findUsers(db, ids)),
    )
    reply.header('x-cache', sync ? (loaded === 0 ? 'HIT' : 'MISS') : 'BYPASS')
    // Ids the request loaded from the database; the others came from the cache.
    if (sync) reply.header('x-cache-loaded', String(loaded))
    return {
      users: ids.flatMap((id) => found.get(id) ?? []),
      missing: ids.filter((id) => !found.has(id)),
    }
  })

  app.get('/api/users/:id', async (request, reply) => {
    const parsed = paramsSchema.safeParse(request.params)
    if (!parsed.success) return badRequest(reply, parsed.error)
    const { id } = parsed.data
    const { value: user, loaded } = await trackLoads(() => (sync ? sync.users.get(id) : findUser(db, id)))
    reply.header('x-cache', sync ? (loaded === 0 ? 'HIT' : 'MISS') : 'BYPASS')
    return user ?? notFound(reply, id)
  })

  app.put('/api/users/:id', { onRequest: access.authenticate }, async (request, reply) => {
    const params = paramsSchema.safeParse(request.params)
    if (!params.success) return badRequest(reply, params.error)
    if (!(await access.mayChange(request, reply, Number(params.data.id)))) return reply
    const body = changesSchema.safeParse(request.body)
    if (!body.success) return badRequest(reply, body.error)
    const { id } = params.data
    if (!sync) {
      const user = await updateUser(db, id, body.data)
      return user ? { user, event: null } : notFound(reply, id)
    }
    // Seed 002 scenario 3: 1. the database (with the event, in its outbox), 2. UserCache.set(),
    // 3. XADD events:users.
    const updated = await updateUserWithEvent(db, id, body.data)
    if (!updated) return notFound(reply, id)
    const { user, event, outboxId } = updated
    await sync.users.set(user).catch((error: Error) => {
      // The event, delivered now or from the outbox, brings the cache up to date.
      request.log.warn({ err: error, userId: id }, 'user cache not updated; the event will update it')
    })
    const entryId = await sync.outbox.deliver(outboxId, event)
    if (entryId !== undefined) return { user, event: { stream: USER_EVENTS_STREAM, id: entryId } }
    request.log.warn(
      { userId: id, outboxId },
      'user.profile.updated queued in the outbox until Redis is back',
    )
    return {
      user,
      event: null,
      queued: { outboxId },
      warning: 'Redis is unavailable: the event is queued and will be published when it is back',
    }
  })
}

function byId(users: UserProfile[]): Map<string, UserProfile> {
  return new Map(users.map((user) => [user.id, user]))
}
