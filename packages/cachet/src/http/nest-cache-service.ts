import type { DynamicModule } from '@nestjs/common'
import { formatDuration } from '../admin/responses.js'
import { createWarmupRegistry, type WarmupRegistry } from '../admin/warmup.js'
import type { CacheApi, CacheHealth } from '../core/cache-api.js'
import { toMs } from '../core/duration.js'
import { engineOf } from '../core/engine-of.js'
import { InvalidOptionError } from '../core/errors.js'
import { formatBytes } from '../core/format-bytes.js'
import { SEED_TTL_RULES } from '../core/options.js'
import { requirePeer } from '../core/peer.js'

const { Global, Inject, Injectable, Module } = requirePeer<typeof import('@nestjs/common')>(
  '@nestjs/common',
  'cachet/nestjs',
)

/**
 * Seed 004's TTL strategy (§4.3) in seconds by key prefix, `'*'` the default: set() and getOrSet()
 * without a ttl use the longest prefix the key starts with.
 */
export const SEED_TTL_STRATEGY: Readonly<Record<string, number>> = Object.freeze({
  ...Object.fromEntries(Object.entries(SEED_TTL_RULES).map(([prefix, ttl]) => [prefix, toMs(ttl) / 1000])),
  '*': 300,
})

/** Injection token of the options CacheServiceModule.forRoot() was given. */
export const CACHET_CACHE_SERVICE_OPTIONS = Symbol.for('cachet:cache-service-options')
const DEFAULT_TTL_SECONDS = 300
const VALUE_INFO_BYTES = 1024

/** Options of CacheServiceModule.forRoot(). */
export interface CacheServiceOptions {
  /** The engine, from createCache(). Keys are relative to its prefix. */
  cache: CacheApi
  /** TTL in seconds by key prefix, `'*'` the default. @default SEED_TTL_STRATEGY */
  ttlStrategy?: Readonly<Record<string, number>>
  /** Modules warmup() runs (products, users, vehicles, config, seo…). @default none */
  warmers?: WarmupRegistry
}

/** What warmup() answers: seed 004's warm-up stats. */
export interface WarmupResult {
  modulesWarmed: string[]
  keysCreated: number
  duration: string
  errors: number
}

/** What healthCheck() answers (seed 004 §2.4). */
export interface HealthStatus {
  status: CacheHealth['status']
  redis: {
    connected: boolean
    latency?: string
    memoryUsage?: string
    maxMemory?: string
    usagePercent?: number
    error?: string
    lastSeen?: string
  }
  timestamp: string
}

/** What getMemoryInfo() answers. */
export interface MemoryInfo {
  memory: string
  usedMemory: number
  maxMemory: number
  /** used / max in percent; 0 when maxmemory is unbounded. */
  usagePercent: number
  fragmentation?: number
}

/** What invalidate() is asked to do. */
export interface InvalidateOptions {
  keys?: string[]
  patterns?: string[]
  tags?: string[]
}

/** What invalidate() answers (seed 004 §2.5). */
export interface InvalidateResult {
  keysInvalidated: number
  patternsProcessed: number
  tagsProcessed: number
  duration: string
  details: { keys: string[]; patterns: Record<string, number>; tags: Record<string, number> }
}

/** One key as listKeys() and getKeyInfo() show it; ttl in seconds, -1 when none. */
export interface KeyInfo {
  key: string
  type: string
  ttl: number
  size?: string
  /** getKeyInfo() only: the value, when it serialises to at most 1 KB. */
  value?: unknown
}

/** What listKeys() answers (seed 004 §2.6). */
export interface KeyListResult {
  keys: KeyInfo[]
  pagination: { total: number; returned: number; nextCursor: string | null; hasMore: boolean }
}

function seconds(ttl: number, name: string): number {
  if (!Number.isFinite(ttl) || ttl <= 0) {
    throw new InvalidOptionError(`${name} must be a positive number of seconds, got ${ttl}`)
  }
  return ttl * 1000
}

function ttlSeconds(ttlMs: number | undefined): number {
  return ttlMs === undefined ? -1 : Math.ceil(ttlMs / 1000)
}

/**
 * Seed 004's CacheService (§3.1 and §3.2) over a cachet cache: the same method names, ttl in
 * seconds, the smart TTL by key prefix. Values go through the engine (L1, stampede lock, fail-safe,
 * tags); get() answers null for a miss, as the seed's did.
 */
export class CacheService {
  readonly #cache: CacheApi
  readonly #strategy: Array<[string, number]>
  readonly #defaultTtl: number
  readonly #warmers: WarmupRegistry
  #lastSeen: string | undefined

  constructor(options: CacheServiceOptions) {
    if (!options?.cache) throw new InvalidOptionError('CacheServiceModule.forRoot() needs { cache }')
    this.#cache = options.cache
    const strategy = options.ttlStrategy ?? SEED_TTL_STRATEGY
    for (const [prefix, ttl] of Object.entries(strategy)) seconds(ttl, `ttlStrategy['${prefix}']`)
    this.#defaultTtl = strategy['*'] ?? DEFAULT_TTL_SECONDS
    this.#strategy = Object.entries(strategy)
      .filter(([prefix]) => prefix !== '*')
      .sort((a, b) => b[0].length - a[0].length)
    this.#warmers = options.warmers ?? createWarmupRegistry()
  }

  /** The value of `key`, or null on a miss. */
  async get<T>(key: string): Promise<T | null> {
    return (await this.#cache.get<T>(key)) ?? null
  }

  /** Stores `value` for `ttl` seconds, or the smart TTL of the key's prefix. False when Redis did not take it. */
  async set<T>(key: string, value: T, ttl?: number): Promise<boolean> {
    return this.#cache.set(key, value, { ttl: this.#ttlMs(key, ttl) })
  }

  /** Deletes one key; true when it existed. */
  async del(key: string): Promise<boolean> {
    return this.#cache.delete(key)
  }

  /** Alias of del(). */
  async delete(key: string): Promise<boolean> {
    return this.del(key)
  }

  /** Deletes every key matching a glob pattern (`users:*`), by SCAN; resolves how many. */
  async clearByPattern(pattern: string): Promise<number> {
    return this.#cache.deleteByPattern(pattern)
  }

  /** Cache-aside: the cached value, or `fetcher()`'s, stored for `ttl` seconds (smart TTL without one). */
  async getOrSet<T>(key: string, fetcher: () => Promise<T>, ttl?: number): Promise<T> {
    return this.#cache.getOrSet(key, () => fetcher(), { ttl: this.#ttlMs(key, ttl) })
  }

  /** Seed 004's stats: Redis memory, key count, hit rate ('87.3%'); version and uptime with `redis`. */
  async getStats(): Promise<{
    memory: string
    keyCount: number
    hitRate: string
    connected: boolean
    version?: string
  }> {
    const stats = this.#cache.stats()
    const [health, figures] = await Promise.all([this.#cache.health(), this.#cache.redisFigures()])
    const keyCount =
      figures?.dbSize ?? (health.redis.connected ? (await this.#cache.countByPattern('*', 0)).count : 0)
    return {
      memory: figures?.usedMemoryHuman ?? formatBytes(health.redis.usedMemory) ?? '0B',
      keyCount,
      hitRate: `${(stats.hitRate * 100).toFixed(1)}%`,
      connected: health.redis.connected,
      version: figures?.version,
    }
  }

  /** Runs the registered warmers (all of them without `modules`), waits, and answers the seed's stats. */
  async warmup(modules?: string[], options: { force?: boolean } = {}): Promise<WarmupResult> {
    const final = await this.#warmers.start(this.#cache, { modules, force: options.force ?? false }).done
    return {
      modulesWarmed: final.modulesWarmed,
      keysCreated: final.keysCreated,
      duration: formatDuration(final.durationMs),
      errors: final.errors,
    }
  }

  /** Ping, latency and memory against the thresholds: healthy, degraded (> 100 ms, > 90 %) or unhealthy. */
  async healthCheck(): Promise<HealthStatus> {
    const health = await this.#cache.health()
    const { redis } = health
    const timestamp = new Date().toISOString()
    if (redis.connected) this.#lastSeen = timestamp
    return {
      status: health.status,
      redis: redis.connected
        ? {
            connected: true,
            latency: redis.latencyMs === undefined ? undefined : `${Math.round(redis.latencyMs)}ms`,
            memoryUsage: formatBytes(redis.usedMemory),
            maxMemory: formatBytes(redis.maxMemory),
            usagePercent: redis.usagePercent,
          }
        : { connected: false, error: redis.error ?? 'Redis unavailable', lastSeen: this.#lastSeen },
      timestamp,
    }
  }

  /** PING round trip in ms. Rejects when Redis does not answer (or the cache has no Redis). */
  async ping(): Promise<number> {
    return this.#l2('ping').ping()
  }

  /** Redis memory: used, max (0 = unbounded), percent of max, fragmentation ratio. */
  async getMemoryInfo(): Promise<MemoryInfo> {
    const info = await this.#l2('getMemoryInfo').info()
    const usedMemory = Number(info.used_memory ?? 0)
    const maxMemory = Number(info.maxmemory ?? 0)
    const fragmentation = Number(info.mem_fragmentation_ratio)
    return {
      memory: info.used_memory_human ?? formatBytes(usedMemory) ?? '0B',
      usedMemory,
      maxMemory,
      usagePercent: maxMemory > 0 ? Math.round((usedMemory / maxMemory) * 1000) / 10 : 0,
      fragmentation: Number.isFinite(fragmentation) ? fragmentation : undefined,
    }
  }

  /** True when Redis answers a PING. */
  async checkConnection(): Promise<boolean> {
    return this.ping().then(
      () => true,
      () => false,
    )
  }

  /** Invalidates keys, patterns and tags; counts per pattern and tag (seed 004 §2.5). */
  async invalidate(options: InvalidateOptions): Promise<InvalidateResult> {
    const started = performance.now()
    const keys = [...new Set(options.keys ?? [])]
    const patterns: Record<string, number> = {}
    const tags: Record<string, number> = {}
    let total = keys.length > 0 ? await this.#cache.deleteMany(keys) : 0
    for (const pattern of new Set(options.patterns ?? [])) {
      patterns[pattern] = await this.#cache.deleteByPattern(pattern)
      total += patterns[pattern]
    }
    for (const tag of new Set(options.tags ?? [])) {
      tags[tag] = await this.#cache.invalidateTags([tag])
      total += tags[tag]
    }
    return {
      keysInvalidated: total,
      patternsProcessed: Object.keys(patterns).length,
      tagsProcessed: Object.keys(tags).length,
      duration: formatDuration(performance.now() - started),
      details: { keys, patterns, tags },
    }
  }

  /** Invalidates every entry carrying `tag`, in every instance; resolves how many. */
  async invalidateByTag(tag: string): Promise<number> {
    return this.#cache.invalidateTags([tag])
  }

  /** Adds `tag` to an existing entry, value and lifetimes kept (cache.addTags); false when there is none. */
  async addTagToKey(key: string, tag: string): Promise<boolean> {
    return this.#cache.addTags(key, [tag])
  }

  /** Keys carrying `tag` that still hold a value (the engine's tag index, page by page), sorted. */
  async getKeysByTag(tag: string): Promise<string[]> {
    const keys: string[] = []
    let cursor = '0'
    do {
      const page = await this.#cache.tagKeys(tag, { cursor, limit: 1000 })
      keys.push(...page.keys)
      cursor = page.cursor
    } while (cursor !== '0')
    return [...new Set(keys)].sort()
  }

  /** One page of keys matching `pattern` (SCAN), with the total that match. */
  async listKeys(pattern = '*', cursor = '0', limit = 100): Promise<KeyListResult> {
    const [page, { count }] = await Promise.all([
      this.#cache.keys({ pattern, cursor, limit }),
      this.#cache.countByPattern(pattern, 0),
    ])
    const keys = page.keys.map((info) => ({
      key: info.key,
      type: info.type,
      ttl: ttlSeconds(info.ttlMs),
      size: formatBytes(info.bytes),
    }))
    const hasMore = page.cursor !== '0'
    return {
      keys,
      pagination: { total: count, returned: keys.length, nextCursor: hasMore ? page.cursor : null, hasMore },
    }
  }

  /** Type, ttl (seconds), size and, when small, the value of one key; null when absent. */
  async getKeyInfo(key: string): Promise<KeyInfo | null> {
    const details = await this.#cache.inspect(key)
    if (!details || details.state === 'tombstone') return null
    const text = details.value === undefined ? undefined : safeJson(details.value)
    return {
      key,
      type: details.type,
      ttl: ttlSeconds(details.ttlMs),
      size: formatBytes(details.bytes ?? details.storedBytes),
      ...(text !== undefined && Buffer.byteLength(text) <= VALUE_INFO_BYTES ? { value: details.value } : {}),
    }
  }

  /** Deletes many keys in one round trip; resolves how many existed. */
  async deleteMultiple(keys: string[]): Promise<number> {
    return keys.length === 0 ? 0 : this.#cache.deleteMany(keys)
  }

  /** True when `key` holds a fresh value. */
  async exists(key: string): Promise<boolean> {
    return this.#cache.has(key)
  }

  /** Gives an existing entry `ttl` more seconds of freshness; false when there is none. */
  async expire(key: string, ttl: number): Promise<boolean> {
    return this.#cache.expire(key, seconds(ttl, 'ttl'))
  }

  /** The seed's smart TTL: seconds for the longest strategy prefix `key` starts with, else the default. */
  private getSmartTTL(key: string): number {
    for (const [prefix, ttl] of this.#strategy) if (key.startsWith(prefix)) return ttl
    return this.#defaultTtl
  }

  #ttlMs(key: string, ttl: number | undefined): number {
    return seconds(ttl ?? this.getSmartTTL(key), 'ttl')
  }

  #l2(method: string) {
    const l2 = engineOf(this.#cache).l2
    if (!l2) throw new InvalidOptionError(`${method}() needs a cache with Redis`)
    return l2
  }
}
Injectable()(CacheService)
Inject(CACHET_CACHE_SERVICE_OPTIONS)(CacheService, undefined, 0)

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, (_key, item) => (typeof item === 'bigint' ? `${item}n` : item))
  } catch {
    return undefined
  }
}

/**
 * Seed 004's global cache module (§11.3): `CacheServiceModule.forRoot({ cache })` once in the root
 * module, then `constructor(private cacheService: CacheService) {}` in any provider, without
 * importing the module again.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module is a class; forRoot is the convention.
export class CacheServiceModule {
  static forRoot(options: CacheServiceOptions): DynamicModule {
    return {
      module: CacheServiceModule,
      global: true,
      providers: [{ provide: CACHET_CACHE_SERVICE_OPTIONS, useValue: options }, CacheService],
      exports: [CacheService],
    }
  }
}
Global()(CacheServiceModule)
Module({})(CacheServiceModule)
