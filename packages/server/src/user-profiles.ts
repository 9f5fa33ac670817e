import type { EntityEvent } from 'cachet/entities'
import { z } from 'zod'
import type { Database } from './database.js'
import { enqueueEvent } from './user-outbox.js'

/** Seed 002's user profile, as the entity cache stores it (`updatedAt` in ms is its version). */
export const userProfileSchema = z.object({
  id: z.string(),
  fullName: z.string(),
  avatar: z.string().nullable(),
  matricule: z.string(),
  ministere: z.string(),
  updatedAt: z.number(),
})

/** A user profile. */
export type UserProfile = z.infer<typeof userProfileSchema>

/** Fields PUT /api/users/:id may change. */
export interface ProfileChanges {
  fullName?: string
  avatar?: string | null
  ministere?: string
}

const COLUMNS = `id::text AS id, full_name AS "fullName", avatar, matricule, ministere,
  floor(extract(epoch FROM updated_at) * 1000)::float8 AS "updatedAt"`

/** One profile from the owning service's table (the entity cache's fetchOne); null when unknown. */
export async function findUser(db: Database, id: string): Promise<UserProfile | null> {
  const [row] = await db.query<UserProfile>(`SELECT ${COLUMNS} FROM user_profiles WHERE id = $1::int`, [id])
  return row ?? null
}

/** Profiles of the ids that exist, in no particular order (the entity cache's fetchMany). */
export function findUsers(db: Database, ids: readonly string[]): Promise<UserProfile[]> {
  return db.query<UserProfile>(`SELECT ${COLUMNS} FROM user_profiles WHERE id = ANY($1::int[])`, [ids])
}

/** Ids of users seen in the last `days` days, in id order (stable, so a cancelled prewarm can resume). */
export async function activeUserIds(db: Database, days: number): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT id::text AS id FROM user_profiles
     WHERE last_active_at >= now() - $1::int * interval '1 day' ORDER BY id`,
    [days],
  )
  return rows.map((row) => row.id)
}

/** Applies `changes` and returns the new profile, or null when the user does not exist. */
export function updateUser(db: Database, id: string, changes: ProfileChanges): Promise<UserProfile | null> {
  return applyChanges(db.query, id, changes)
}

/** The event that announces a profile change on events:users; its version is `updatedAt`. */
export function profileUpdated(user: UserProfile): EntityEvent {
  return { type: 'user.profile.updated', id: user.id, payload: user, version: user.updatedAt }
}

/**
 * Applies `changes` and queues their `user.profile.updated` event in the outbox, in one transaction:
 * the event exists exactly when the change does. Null when the user does not exist.
 */
export function updateUserWithEvent(
  db: Database,
  id: string,
  changes: ProfileChanges,
): Promise<{ user: UserProfile; event: EntityEvent; outboxId: string } | null> {
  return db.transaction(async (query) => {
    const user = await applyChanges(query, id, changes)
    if (!user) return null
    const event = profileUpdated(user)
    return { user, event, outboxId: await enqueueEvent(query, event) }
  })
}

async function applyChanges(
  query: Database['query'],
  id: string,
  changes: ProfileChanges,
): Promise<UserProfile | null> {
  const columns = { fullName: 'full_name', avatar: 'avatar', ministere: 'ministere' } as const
  const sets: string[] = []
  const params: unknown[] = [id]
  for (const [field, column] of Object.entries(columns)) {
    const value = changes[field as keyof ProfileChanges]
    if (value === undefined) continue
    params.push(value)
    sets.push(`${column} = $${params.length}`)
  }
  // The version must grow with every change, even two within one millisecond: the entity cache lets
  // an equal version rewrite, so a redelivered older event could otherwise undo a newer one.
  sets.push(`updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 millisecond')`)
  const [row] = await query<UserProfile>(
    `UPDATE user_profiles SET ${sets.join(', ')} WHERE id = $1::int RETURNING ${COLUMNS}`,
    params,
  )
  return row ?? null
}
