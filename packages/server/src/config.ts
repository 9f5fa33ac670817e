import { z } from 'zod'

/** A plain Redis, TLS, or the master a set of sentinels names (redis+sentinel://host:port,…/name). */
const REDIS_URL_SCHEMES = /^(rediss?|redis\+sentinel):\/\//

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** Environment of the runnable server (DESIGN.md, "The runnable server"). */
const envSchema = z.object({
  PORT: z.coerce
    .number({ error: 'PORT must be a number' })
    .int('PORT must be an integer')
    .min(0, 'PORT must be between 0 and 65535')
    .max(65535, 'PORT must be between 0 and 65535')
    .default(3000),
  HOST: z.string().min(1, 'HOST must not be empty').default('127.0.0.1'),
  REDIS_URL: z
    .string()
    .regex(REDIS_URL_SCHEMES, 'REDIS_URL must start with redis://, rediss:// or redis+sentinel://')
    .optional(),
  // Seed 004 §3.3's variables, the other way to name the cache's Redis (REDIS_URL or these, not both).
  REDIS_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$/, 'REDIS_HOST must be a host name or address')
    .optional(),
  REDIS_PORT: z.coerce
    .number({ error: 'REDIS_PORT must be a number' })
    .int('REDIS_PORT must be an integer')
    .min(1, 'REDIS_PORT must be between 1 and 65535')
    .max(65535, 'REDIS_PORT must be between 1 and 65535')
    .optional(),
  REDIS_PASSWORD: z.string().max(512, 'REDIS_PASSWORD must be at most 512 characters').optional(),
  REDIS_DB: z.coerce
    .number({ error: 'REDIS_DB must be a number' })
    .int('REDIS_DB must be an integer')
    .min(0, 'REDIS_DB must be between 0 and 1023')
    .max(1023, 'REDIS_DB must be between 0 and 1023')
    .optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must start with postgres:// or postgresql://')
    .optional(),
  CACHET_ADMIN_TOKEN: z.string().min(16, 'CACHET_ADMIN_TOKEN must be at least 16 characters').optional(),
  CACHET_METRICS_TOKEN: z.string().min(16, 'CACHET_METRICS_TOKEN must be at least 16 characters').optional(),
  CACHET_READ_TOKEN: z
    .string()
    .min(16, 'CACHET_READ_TOKEN must be at least 16 characters')
    .regex(/^\S+$/, 'CACHET_READ_TOKEN must not contain spaces')
    .optional(),
  CACHET_REDIS_MAXMEMORY: z
    .string()
    .regex(/^[1-9][0-9]{0,5}(kb|mb|gb)$/i, 'CACHET_REDIS_MAXMEMORY must be a size such as 256mb')
    .default('256mb'),
  CACHET_DURABLE_REDIS_URL: z
    .string()
    .regex(
      REDIS_URL_SCHEMES,
      'CACHET_DURABLE_REDIS_URL must start with redis://, rediss:// or redis+sentinel://',
    )
    .optional(),
  CACHET_STARTUP_WARMUP_SKIP: z
    .string()
    .regex(
      /^[A-Za-z0-9_.-]{1,64}(,[A-Za-z0-9_.-]{1,64})*$/,
      'CACHET_STARTUP_WARMUP_SKIP must be module names separated by commas',
    )
    .optional(),
  CACHET_INSTANCES: z.coerce
    .number({ error: 'CACHET_INSTANCES must be a number' })
    .int('CACHET_INSTANCES must be an integer')
    .min(1, 'CACHET_INSTANCES must be between 1 and 64')
    .max(64, 'CACHET_INSTANCES must be between 1 and 64')
    .default(1),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })
    .default('info'),
  CACHET_DEMO_ROWS: z.coerce
    .number({ error: 'CACHET_DEMO_ROWS must be a number' })
    .int()
    .min(1_000, 'CACHET_DEMO_ROWS must be at least 1000')
    .max(5_000_000, 'CACHET_DEMO_ROWS must be at most 5000000')
    .default(300_000),
  CACHET_DEMO_ORDER_ITEMS: z.coerce
    .number({ error: 'CACHET_DEMO_ORDER_ITEMS must be a number' })
    .int()
    .min(1_000, 'CACHET_DEMO_ORDER_ITEMS must be at least 1000')
    .max(5_000_000, 'CACHET_DEMO_ORDER_ITEMS must be at most 5000000')
    .default(300_000),
})

/** The server's resolved configuration. */
export interface ServerConfig {
  port: number
  host: string
  /**
   * External Redis, from REDIS_URL or REDIS_HOST/REDIS_PORT/REDIS_PASSWORD/REDIS_DB; when absent the
   * server spawns its own redis-server, or runs L1-only.
   */
  redisUrl?: string
  /** External PostgreSQL; when absent the demo data lives in an in-memory PGlite. */
  databaseUrl?: string
  /** Admin bearer token; when absent one is generated at start and printed. */
  adminToken?: string
  /** Bearer token of GET /metrics; when absent, /metrics takes the admin token. */
  metricsToken?: string
  /** Read-only bearer token of the admin API and the dashboard (stats, keys, metadata; no values, no changes). */
  readToken?: string
  /** maxmemory of the embedded cache redis-server. */
  redisMaxMemory: string
  /**
   * Redis without eviction for the audit stream and the event streams; when absent the server spawns
   * one beside the cache's, or (with REDIS_URL) shares the cache's Redis and says so.
   */
  durableRedisUrl?: string
  /** Server processes `npm start` runs on one Redis (ports PORT..PORT+N-1). */
  instances: number
  logLevel: (typeof LOG_LEVELS)[number]
  /** Warm-up modules not to run at start-up (they stay available to POST /api/cache/warmup). */
  startupWarmupSkip: ReadonlySet<string>
  /** Rows generated in the demo `logs` table. */
  demoRows: number
  /** Rows generated in the demo `order_items` table (a quarter as many orders). */
  demoOrderItems: number
}

type RedisParts = Pick<z.infer<typeof envSchema>, 'REDIS_HOST' | 'REDIS_PORT' | 'REDIS_PASSWORD' | 'REDIS_DB'>

/**
 * The cache's Redis from seed 004's REDIS_HOST (default localhost), REDIS_PORT (6379), REDIS_PASSWORD
 * and REDIS_DB (0); undefined when none of them is set (then the server spawns its own redis-server).
 */
function redisUrlFromParts(e: RedisParts): string | undefined {
  const given = [e.REDIS_HOST, e.REDIS_PORT, e.REDIS_PASSWORD, e.REDIS_DB].some((v) => v !== undefined)
  if (!given) return undefined
  const auth = e.REDIS_PASSWORD === undefined ? '' : `:${encodeURIComponent(e.REDIS_PASSWORD)}@`
  return `redis://${auth}${e.REDIS_HOST ?? 'localhost'}:${e.REDIS_PORT ?? 6379}/${e.REDIS_DB ?? 0}`
}

/** Thrown when the environment holds a bad value; the message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads the server configuration from environment variables, or throws ConfigError naming the bad ones. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  // Empty strings count as unset: `PORT= npm start` should mean the default, not an error.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''))
  const parsed = envSchema.safeParse(present)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`)
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`)
  }
  const e = parsed.data
  const parts = ['REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_DB'] as const
  const alsoGiven = parts.filter((name) => e[name] !== undefined)
  if (e.REDIS_URL && alsoGiven.length > 0) {
    throw new ConfigError(
      `invalid environment:\n  REDIS_URL: set REDIS_URL or ${alsoGiven.join(', ')}, not both`,
    )
  }
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL ?? redisUrlFromParts(e),
    databaseUrl: e.DATABASE_URL,
    adminToken: e.CACHET_ADMIN_TOKEN,
    metricsToken: e.CACHET_METRICS_TOKEN,
    readToken: e.CACHET_READ_TOKEN,
    durableRedisUrl: e.CACHET_DURABLE_REDIS_URL,
    redisMaxMemory: e.CACHET_REDIS_MAXMEMORY.toLowerCase(),
    instances: e.CACHET_INSTANCES,
    logLevel: e.LOG_LEVEL,
    startupWarmupSkip: new Set(e.CACHET_STARTUP_WARMUP_SKIP?.split(',') ?? []),
    demoRows: e.CACHET_DEMO_ROWS,
    demoOrderItems: e.CACHET_DEMO_ORDER_ITEMS,
  }
}
