import type { Database } from './database.js'
import { keptTable, type SeedResult, seeded } from './demo-data.js'
import { createOutboxTable } from './user-outbox.js'

/** Profiles the user seed generates. */
export const DEMO_USERS = 5_000

/**
 * Creates and fills `user_profiles`, seed 002's users as their owning service stores them (full name,
 * avatar, matricule, ministry), with a last activity spread over 30 days so about a quarter of them
 * are "active" (seen in the last 7 days) for the prewarmer, and the outbox of their change events. A
 * table that holds rows is never touched.
 */
export async function seedUsers(db: Database): Promise<SeedResult> {
  const started = performance.now()
  // Not `users`: an external database may well have a table of that name with other columns.
  await db.query(`CREATE TABLE IF NOT EXISTS user_profiles (
    id int PRIMARY KEY,
    full_name text NOT NULL,
    avatar text,
    matricule text NOT NULL,
    ministere text NOT NULL,
    last_active_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
  )`)
  await createOutboxTable(db)
  const kept = await keptTable(db, 'user_profiles', started)
  if (kept) return kept
  await db.query(
    `INSERT INTO user_profiles (id, full_name, avatar, matricule, ministere, last_active_at, updated_at)
     SELECT g,
       (ARRAY['Jean','Awa','Paul','Mireille','Samuel','Grace','Eric','Nadia'])[1 + g % 8] || ' ' ||
         (ARRAY['Dupont','Mbarga','Nkoulou','Fotso','Essomba','Tchana','Abena'])[1 + g % 7],
       CASE WHEN g % 4 = 0 THEN NULL ELSE 'https://avatars.example.com/' || g || '.png' END,
       'MAT' || lpad(g::text, 5, '0'),
       (ARRAY['MINFOP','MINFI','MINSANTE','MINEDUB','MINTP'])[1 + g % 5],
       now() - ((g * 7) % 30) * interval '1 day',
       now() - interval '30 days' + (g % 1000) * interval '1 second'
     FROM generate_series(1, $1::int) AS g`,
    [DEMO_USERS],
  )
  return seeded(DEMO_USERS, started)
}
