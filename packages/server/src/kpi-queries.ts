import type { Database } from './database.js'

/** Seed 001's dashboard: the 7 KPI queries over `logs`. */
export interface DashboardKpis {
  totalLogs: number
  logsToday: number
  errorLogs: number
  byLevel: Record<string, number>
  recent: Array<{ id: number; ts: string; level: string; service: string; message: string }>
  last7Days: Array<{ day: string; count: number }>
  filesUploaded: number
  /** How long the 7 queries took, in ms: the cost the cache saves. */
  queryMs: number
}

/** Runs seed 001's 7 KPI queries, optionally restricted to one user's logs. */
export async function dashboardKpis(db: Database, userId?: number): Promise<DashboardKpis> {
  const started = performance.now()
  // $1 IS NULL keeps one statement for both the global and the per-user dashboard.
  const scope = '($1::int IS NULL OR user_id = $1::int)'
  const p = [userId ?? null]
  const count = async (where: string) =>
    (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM logs WHERE ${scope} AND ${where}`, p))[0]
      ?.n ?? 0

  // Sequential on purpose: seed 001 ran them one after the other, and PGlite serialises them anyway.
  const totalLogs = await count('true')
  const logsToday = await count(`ts >= date_trunc('day', now())`)
  const errorLogs = await count(`level = 'error'`)
  const levels = await db.query<{ level: string; n: number }>(
    `SELECT level, count(*)::int AS n FROM logs WHERE ${scope} GROUP BY level ORDER BY level`,
    p,
  )
  const recent = await db.query<{ id: number; ts: string; level: string; service: string; message: string }>(
    `SELECT id::int AS id, ts::text AS ts, level, service, message FROM logs WHERE ${scope}
     ORDER BY ts DESC LIMIT 10`,
    p,
  )
  const days = await db.query<{ day: string; count: number }>(
    `SELECT to_char(date_trunc('day', ts), 'YYYY-MM-DD') AS day, count(*)::int AS count FROM logs
     WHERE ${scope} AND ts >= now() - interval '7 days' GROUP BY 1 ORDER BY 1`,
    p,
  )
  const filesUploaded = await count('file_name IS NOT NULL')
  return {
    totalLogs,
    logsToday,
    errorLogs,
    byLevel: Object.fromEntries(levels.map((row) => [row.level, row.n])),
    recent,
    last7Days: days,
    filesUploaded,
    queryMs: Math.round(performance.now() - started),
  }
}

/** One hit of a log search. */
export interface SearchHit {
  id: number
  ts: string
  level: string
  message: string
}

/** Full-text-ish search over log messages (a substring match, LIKE metacharacters escaped). */
export async function searchLogs(db: Database, q: string, limit = 20): Promise<SearchHit[]> {
  const escaped = q.replace(/[\\%_]/g, (c) => `\\${c}`)
  return db.query<SearchHit>(
    `SELECT id::int AS id, ts::text AS ts, level, message FROM logs
     WHERE message ILIKE '%' || $1 || '%' ORDER BY ts DESC LIMIT $2`,
    [escaped, limit],
  )
}
