import type { Cluster, Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { CacheApi } from '../core/cache-api.js'
import type { WriteBehindHealth } from '../write/types.js'
import type { HistoryOptions } from './history.js'
import type { WarmupRegistry } from './warmup.js'

/** Bounds the admin API enforces on every request. */
export interface AdminLimits {
  /** Largest accepted request body, in bytes; larger → 413. @default 1 MiB */
  bodyBytes?: number
  /** Most keys in one invalidate call. @default 1000 */
  keysPerCall?: number
  /** Most patterns, and most tags, in one invalidate call. @default 50 */
  patternsPerCall?: number
  /** Longest accepted pattern (docs/reliability.md S6). @default 256 */
  patternLength?: number
  /** Most wildcards (`*`, `?`, `[`) in one pattern (docs/reliability.md S6). @default 8 */
  patternWildcards?: number
  /** Longest accepted key. @default 1024 */
  keyLength?: number
  /**
   * Failed credentials (a wrong token, a bad JWT, a JWT without the admin role) per client address
   * and window; later failures from that address answer 429. A correct credential always passes.
   * @default 10
   */
  authFailures?: number
  /** Window of the failure limiter and of the grouping of denial records, in ms. @default 60000 */
  authWindowMs?: number
  /** Keys scanned (at most) to compute per-namespace key counts and memory in GET /stats. @default 5000 */
  statsScanKeys?: number
  /** How long the per-namespace snapshot of GET /stats is reused, in ms. @default 30000 */
  statsSnapshotMs?: number
  /** Deadline of one warm-up run, in ms. @default 600000 */
  warmupTimeoutMs?: number
  /** Deadline of the audit sink and of Redis INFO, in ms. @default 1000 */
  redisTimeoutMs?: number
}

/** JWT verification settings: HS256 with a shared secret, or RS256 with a PEM (SPKI) public key. */
export interface AdminJwtOptions {
  secret?: string
  publicKey?: string
  /** Accepted algorithms; anything else (including `none`) is refused. @default ['HS256'] with secret, ['RS256'] with publicKey */
  algorithms?: Array<'HS256' | 'RS256'>
  /** Claim holding the role (a string or an array of strings). @default 'role' */
  roleClaim?: string
  /** Role that grants admin access. @default 'admin' */
  adminRole?: string
  /** Role that grants read-only access (stats, health, keys and metadata, never values). @default 'operator' */
  readRole?: string
  /** Expected `iss`, when set. */
  issuer?: string
  /** Expected `aud`: required with `secret` or `publicKey`, so tokens issued for other services are refused. */
  audience?: string
  /** Oldest accepted token, from its `iat` (required, like `exp`). @default 3600000 (1 h) */
  maxTokenAgeMs?: number
}

/** What the admin API needs of a write-behind (`createWriteBehind()` returns one): its health. */
export interface WriteBehindSource {
  health(): Promise<WriteBehindHealth>
}

/** Options of the admin plugin. */
export interface AdminOptions {
  /** The engine the API steers. */
  cache: CacheApi
  /** Static bearer tokens granting admin access, at least 16 characters each. Compared in constant time. */
  tokens?: string[]
  /**
   * Static bearer tokens granting read-only access: stats, health, history, keys and their metadata,
   * warm-up and audit listings, never a value; every change answers 403. Same rules as `tokens`.
   */
  readTokens?: string[]
  /** Admin JWTs, verified with jose. */
  jwt?: AdminJwtOptions
  /**
   * Redis client used for INFO figures in GET /stats (version, uptime, DBSIZE), as the default audit
   * sink, and to share the history between instances (GET /history?instance=all).
   */
  redis?: Redis | Cluster
  /**
   * Audit log sink: capped Redis streams (default key `${prefix}:__audit` for actions, `maxLen`
   * 10000, and `${streamKey}:denied` for denied calls, `deniedMaxLen` 1000), else in-memory rings.
   */
  audit?: { redis?: Redis | Cluster; streamKey?: string; maxLen?: number; deniedMaxLen?: number }
  /** Warm-up modules, run by POST /warmup. */
  warmers?: WarmupRegistry
  limits?: AdminLimits
  /**
   * The sampler behind GET /history and the dashboard's charts: a point every 5 s, 15 minutes kept;
   * with a Redis client each point is also published there for the other instances.
   */
  history?: HistoryOptions
  /**
   * Write-behinds whose health GET /write-behind answers and the dashboard shows: one, or several by
   * name (`{ 'product views': views, audit: auditWriter }`). None: an empty list, the card hidden.
   */
  writeBehind?: WriteBehindSource | Record<string, WriteBehindSource>
  /** Defaults to the Fastify instance's logger. */
  logger?: Logger
}

/** Limits with every default filled in. */
export type ResolvedLimits = Required<AdminLimits>

/** Fills in the defaults of AdminLimits. */
export function resolveLimits(limits: AdminLimits = {}): ResolvedLimits {
  return {
    bodyBytes: limits.bodyBytes ?? 1024 * 1024,
    keysPerCall: limits.keysPerCall ?? 1000,
    patternsPerCall: limits.patternsPerCall ?? 50,
    patternLength: limits.patternLength ?? 256,
    patternWildcards: limits.patternWildcards ?? 8,
    keyLength: limits.keyLength ?? 1024,
    authFailures: limits.authFailures ?? 10,
    authWindowMs: limits.authWindowMs ?? 60_000,
    statsScanKeys: limits.statsScanKeys ?? 5000,
    statsSnapshotMs: limits.statsSnapshotMs ?? 30_000,
    warmupTimeoutMs: limits.warmupTimeoutMs ?? 600_000,
    redisTimeoutMs: limits.redisTimeoutMs ?? 1000,
  }
}
