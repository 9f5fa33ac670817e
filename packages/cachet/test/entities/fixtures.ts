import { z } from 'zod'

/** Seed 002's user profile, with a date to prove types survive the hash round trip. */
export const UserSchema = z.object({
  id: z.string(),
  fullName: z.string(),
  avatar: z.string().nullable(),
  matricule: z.string(),
  ministere: z.string(),
  age: z.number().int(),
  active: z.boolean(),
  joinedAt: z.coerce.date(),
  updatedAt: z.number(),
})

export type User = z.infer<typeof UserSchema>

/** A user with a given id and version. */
export function user(id: string, updatedAt = 1_736_862_000_000, overrides: Partial<User> = {}): User {
  return {
    id,
    fullName: `User ${id}`,
    avatar: null,
    matricule: `MAT${id}`,
    ministere: 'MINFOP',
    age: 30,
    active: true,
    joinedAt: new Date('2024-01-15T10:00:00.000Z'),
    updatedAt,
    ...overrides,
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` until it returns true; throws after `limitMs`. Resolves the ms it took. */
export async function waitFor(check: () => boolean | Promise<boolean>, limitMs: number): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`condition not met within ${limitMs} ms`)
    await sleep(20)
  }
  return Date.now() - started
}
