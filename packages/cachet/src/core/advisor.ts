import type { Engine } from './engine.js'
import { InvalidOptionError } from './errors.js'
import type { ResolvedOptions } from './options.js'
import type { RedisSettings } from './types.js'

/** The stable code of each piece of start-up advice (docs/advisor.md). */
export const ADVICE_CODES = [
  'redis-noeviction',
  'redis-volatile-eviction',
  'redis-no-maxmemory',
  'redis-persistence',
  'soft-timeout-without-grace',
  'l1-without-invalidation',
  'lock-wait-beyond-hard-timeout',
  'lock-off-with-redis',
  'no-expiry-spread',
] as const

export type AdviceCode = (typeof ADVICE_CODES)[number]

/** One risky setting found at start-up: what is wrong and how to fix it. */
export interface Advice {
  code: AdviceCode
  message: string
  fix: string
}

/** The `advisor` option: false = silent; `ignore` silences chosen codes (a risk you took on purpose). */
export type AdvisorOption = false | { ignore?: readonly AdviceCode[] }

/** What the cache's own options tell, known before Redis answers. */
export interface CacheFacts {
  options: ResolvedOptions
  hasRedis: boolean
}

/** The advice the cache's options call for. */
export function adviseOnOptions({ options, hasRedis }: CacheFacts): Advice[] {
  const advice: Advice[] = []
  if (options.graceMs === 0 && Number.isFinite(options.softTimeoutMs)) {
    advice.push({
      code: 'soft-timeout-without-grace',
      message: `grace is off, so the soft timeout (${options.softTimeoutMs} ms) never has a stale value to serve: every slow load is waited for up to the hard timeout`,
      fix: "give entries a grace period (grace: '1h') or say so: timeouts: { soft: false }",
    })
  }
  if (options.l1 && hasRedis && !options.bus) {
    advice.push({
      code: 'l1-without-invalidation',
      message:
        'L1 is on and the bus is off: a write or invalidation in another instance never reaches this one, which serves its L1 copy for up to l1.maxTtl',
      fix: 'turn the bus on (bus: true), or turn L1 off (l1: false), or keep l1.maxTtl as short as the staleness you accept',
    })
  }
  if (options.lock && options.lock.waitMs > options.hardTimeoutMs) {
    advice.push({
      code: 'lock-wait-beyond-hard-timeout',
      message: `lock.wait (${options.lock.waitMs} ms) is longer than timeouts.hard (${options.hardTimeoutMs} ms): a caller gives up before the lock wait can end`,
      fix: 'set lock.wait at or below timeouts.hard',
    })
  }
  if (!options.lock && hasRedis) {
    advice.push({
      code: 'lock-off-with-redis',
      message:
        'the distributed lock is off: on a miss every instance runs its own loader for the same key (a stampede across instances)',
      fix: "turn the lock on (lock: { ttl: '30s', wait: '5s' }, the default)",
    })
  }
  if (options.jitter === 0 && options.earlyRefreshBeta === 0) {
    advice.push({
      code: 'no-expiry-spread',
      message:
        'jitter is 0 and early refresh is off: entries written together expire together, and their loads all run at once',
      fix: 'keep a jitter (jitter: 0.1) or probabilistic early refresh (earlyRefresh: { beta: 1 })',
    })
  }
  return advice
}

/** The advice the Redis server's settings call for. */
export function adviseOnRedis(settings: RedisSettings): Advice[] {
  const advice: Advice[] = []
  const policy = settings.evictionPolicy
  if (policy === 'noeviction') {
    advice.push({
      code: 'redis-noeviction',
      message:
        'maxmemory-policy is noeviction: once Redis is full every cache write fails with OOM instead of evicting old entries',
      fix: 'on a Redis dedicated to the cache: CONFIG SET maxmemory-policy allkeys-lru (or allkeys-lfu)',
    })
  } else if (policy.startsWith('volatile-')) {
    advice.push({
      code: 'redis-volatile-eviction',
      message: `maxmemory-policy is ${policy}: only keys with a TTL are evicted, so keys without one (another application's data, a journal) are never freed and can fill Redis until writes fail; tag indexes have a TTL and can be evicted before the entries they list, which invalidateTags then misses`,
      fix: 'on a Redis dedicated to the cache: CONFIG SET maxmemory-policy allkeys-lru (or allkeys-lfu)',
    })
  }
  if (settings.maxMemory === 0) {
    advice.push({
      code: 'redis-no-maxmemory',
      message:
        'maxmemory is 0 (unbounded): Redis grows until the machine runs out of memory, and no eviction policy ever applies',
      fix: 'CONFIG SET maxmemory <bytes> (e.g. 75% of the memory given to Redis)',
    })
  }
  const snapshots = settings.rdbSave !== undefined && settings.rdbSave.trim() !== ''
  if (settings.aof || snapshots) {
    const what = [
      settings.aof ? 'AOF (appendonly yes)' : '',
      snapshots ? `RDB snapshots (save ${settings.rdbSave})` : '',
    ]
      .filter(Boolean)
      .join(' and ')
    advice.push({
      code: 'redis-persistence',
      message: `Redis persists to disk with ${what}: on a pure cache this costs fork pauses and disk writes for data the loaders can rebuild`,
      fix: "CONFIG SET save '' and CONFIG SET appendonly no; if this Redis also keeps data that must survive a restart, ignore this code (advisor: { ignore: ['redis-persistence'] })",
    })
  }
  return advice
}

/** Checks the advisor option; throws InvalidOptionError on an unknown code. */
export function resolveAdvisor(option: AdvisorOption | undefined): { ignore: ReadonlySet<string> } | false {
  if (option === false) return false
  const ignore = option?.ignore ?? []
  for (const code of ignore) {
    if (!(ADVICE_CODES as readonly string[]).includes(code)) {
      throw new InvalidOptionError(
        `advisor.ignore: unknown code ${JSON.stringify(code)}; known codes: ${ADVICE_CODES.join(', ')}`,
      )
    }
  }
  return { ignore: new Set(ignore) }
}

const given = new WeakMap<Engine, Advice[]>()

/** The advice given so far by this engine's cache (health() lists it). */
export function adviceOf(engine: Engine): readonly Advice[] {
  return given.get(engine) ?? []
}

/** Gives each piece of advice once: a logger warning, an `advice` event, and a line in health(). */
export function giveAdvice(engine: Engine, advice: readonly Advice[], ignore: ReadonlySet<string>): void {
  const list = given.get(engine) ?? []
  given.set(engine, list)
  for (const item of advice) {
    if (ignore.has(item.code) || list.some((known) => known.code === item.code)) continue
    list.push(item)
    engine.logger.warn({ code: item.code, fix: item.fix }, `cachet advice: ${item.message}`)
    engine.emitter.emit('advice', item)
  }
}
