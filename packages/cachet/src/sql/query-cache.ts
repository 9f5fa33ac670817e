import { reuseFor } from '../core/reuse.js'
import { type CacheApi, type CallOptions, type Duration, InvalidOptionError } from '../index.js'
import { analyzeSql, sqlFindings } from './analyze.js'
import { type Driver, type Queryable, type Run, type SqlResult, toDriver } from './driver.js'
import { MutationInQueryError, UncacheableQueryError } from './errors.js'
import { probeIdentity, validateIdentity } from './identity.js'
import { InvalidationListener, type ListenerHealth } from './listener.js'
import { bindParams, type SqlParams } from './params.js'
import { loadSqlParser, type ParseSql, type SqlParserStatus } from './pg-parser.js'
import { queryKey, tableTag, validateNamespace } from './query-key.js'
import { type QueryCacheStats, QueryStats } from './query-stats.js'
import { tableName } from './table-name.js'
import { DEFAULT_CHANNEL, validateChannel } from './triggers.js'

/** Options of createQueryCache(). */
export interface QueryCacheOptions {
  /** The engine (createCache()); the query cache stores through it. */
  cache: CacheApi
  /** A `pg` Pool or Client, a PGlite instance, or anything with `query(text, values)`. */
  db: Queryable
  /** First segment of every key. @default 'query' */
  namespace?: string
  /**
   * Which database (and role, search_path…) results come from; part of every key. By default it is
   * asked of the database on first use (docs/sql.md, "Tenants"). Query caches with equal identities
   * share entries, so give each tenant its own.
   */
  identity?: string
  /** TTL of cached results when adaptiveTtl is false (else the engine's ttl). */
  defaultTtl?: Duration
  /** TTL from the measured query time (default thresholds or the engine's adaptiveTtl). @default true */
  adaptiveTtl?: boolean
  /** Per-query figures are kept for at most this many keys. @default 500 */
  maxTrackedQueries?: number
}

/** Options of one query(). */
export interface QueryOptions {
  /** Overrides the adaptive and default TTL. */
  ttl?: Duration
  /** Added to the automatic `table:<name>` tags. */
  tags?: readonly string[]
  /** Run the SQL even when a fresh result is cached (an admin action, not a request header). */
  forceRefresh?: boolean
}

/** Options of execute(). */
export interface ExecuteOptions {
  /** Tables to invalidate besides those the statement visibly writes (e.g. written by a trigger or function). */
  invalidates?: readonly string[]
}

/** What a transaction() callback gets: statements run on the transaction's connection, uncached. */
export interface SqlTransaction {
  query<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]>
  execute<T = Record<string, unknown>>(
    sql: string,
    params?: SqlParams,
    options?: ExecuteOptions,
  ): Promise<SqlResult<T>>
}

/** One query of warmUp(). */
export interface WarmUpQuery {
  sql: string
  params?: SqlParams
  ttl?: Duration
  tags?: readonly string[]
}

/** What health() reports. */
export interface QueryCacheHealth {
  /** Which analyser finds tables and read verdicts, and why not the parser when it is the tokenizer. */
  parser: SqlParserStatus
  /** The invalidation listener (listen()); state 'off' until it is started. */
  listener: ListenerHealth
}

/** What warmUp() did. */
export interface WarmUpResult {
  warmed: number
  failed: number
  durationMs: number
  /** The failures, by index in the input. */
  errors: Array<{ index: number; error: unknown }>
}

/** Creates a QueryCache on the engine: cached reads, table tags, invalidating writes and transactions. */
export function createQueryCache(options: QueryCacheOptions): QueryCache {
  return new QueryCache(options)
}

/** SQL results cached in the engine under `${namespace}:${hash}`, tagged with the tables they read. */
export class QueryCache {
  readonly cache: CacheApi
  readonly namespace: string
  readonly adaptiveTtl: boolean
  readonly defaultTtl: Duration | undefined
  readonly #driver: Driver
  readonly #db: Queryable
  #listener: InvalidationListener | undefined
  readonly #stats: QueryStats
  readonly #parser = loadSqlParser()
  #parserStatus: SqlParserStatus | undefined
  /** The identity option, else the probe: asked once and kept; a failure (database down) is not kept. */
  readonly #identity: () => Promise<string>

  constructor(options: QueryCacheOptions) {
    this.cache = options.cache
    this.namespace = options.namespace ?? 'query'
    validateNamespace(this.namespace)
    this.adaptiveTtl = options.adaptiveTtl ?? true
    this.defaultTtl = options.defaultTtl
    this.#driver = toDriver(options.db)
    this.#db = options.db
    const { identity } = options
    if (identity !== undefined) validateIdentity(identity)
    this.#identity =
      identity === undefined
        ? reuseFor(Number.POSITIVE_INFINITY, () => probeIdentity(this.#driver))
        : () => Promise.resolve(`id:${identity}`)
    this.#stats = new QueryStats(options.maxTrackedQueries)
    void this.#parser.then(({ status }) => {
      this.#parserStatus = status
    })
  }

  /** Which analyser finds tables and read verdicts: PostgreSQL's parser (libpg-query), or the tokenizer when it cannot load. */
  async parser(): Promise<SqlParserStatus> {
    return (await this.#parser).status
  }

  /** Which driver was detected: 'pglite', 'pg-pool', 'pg-client' or 'custom'. */
  get driver(): Driver['kind'] {
    return this.#driver.kind
  }

  /** The cache key of a query: `${namespace}:${sha256(identity + normalized SQL + stable JSON of params)}`. */
  async key(sql: string, params?: SqlParams): Promise<string> {
    return this.#key(analyzeSql(sql).normalized, params)
  }

  async #key(normalizedSql: string, params: SqlParams | undefined): Promise<string> {
    return queryKey(this.namespace, await this.identity(), normalizedSql, params)
  }

  /** The database identity every key of this query cache includes: the `identity` option, else probed once. */
  identity(): Promise<string> {
    return this.#identity()
  }

  /** Rows of a read-only statement, from the cache when fresh; the SQL runs once however many callers wait. */
  async query<T = Record<string, unknown>>(
    sql: string,
    params?: SqlParams,
    options: QueryOptions = {},
  ): Promise<T[]> {
    const info = analyzeSql(sql)
    const bound = bindParams(sql, info.tokens, params)
    const found = sqlFindings(bound.text, await this.#parse())
    if (!found.verdict.cacheable) {
      const { effects, reason } = found.verdict
      const message = `query() caches only reads that can be reused; this statement ${reason}: use execute()`
      throw effects ? new MutationInQueryError(message) : new UncacheableQueryError(message)
    }
    const key = await this.#key(info.normalized, params)
    const tags = [...new Set([...found.reads.map(tableTag), ...(options.tags ?? [])])]
    const started = performance.now()
    const load = async () => {
      const loadStarted = performance.now()
      const { rows } = await this.#driver.run(bound.text, bound.values)
      this.#stats.load(key, info.normalized, performance.now() - loadStarted)
      return rows
    }
    const result = await this.cache.getOrSetResult(key, load, {
      ...this.#ttlOptions(options.ttl),
      tags,
      forceRefresh: options.forceRefresh === true,
    })
    if (result.outcome === 'miss') this.#stats.miss(key, info.normalized)
    else this.#stats.hit(key, info.normalized, performance.now() - started)
    return result.value as T[]
  }

  /**
   * Runs a statement uncached, then — once it has settled, never concurrently with it — invalidates the
   * tables it writes and `options.invalidates`. Invalidates even when it failed: a lost connection can
   * hide a commit, and an extra invalidation only costs a reload.
   */
  async execute<T = Record<string, unknown>>(
    sql: string,
    params?: SqlParams,
    options: ExecuteOptions = {},
  ): Promise<SqlResult<T>> {
    const bound = bindParams(sql, analyzeSql(sql).tokens, params)
    const { writes } = sqlFindings(bound.text, await this.#parse())
    const tables = [...writes, ...(options.invalidates ?? []).map(tableName)]
    try {
      return (await this.#driver.run(bound.text, bound.values)) as SqlResult<T>
    } finally {
      if (tables.length > 0) await this.#invalidateNames(tables)
    }
  }

  /**
   * Runs `fn` in BEGIN … COMMIT on one connection and invalidates the tables written inside after the
   * COMMIT; a rollback (fn throws) invalidates nothing.
   */
  async transaction<R>(fn: (tx: SqlTransaction) => Promise<R>): Promise<R> {
    const written = new Set<string>()
    let committing = false
    const parse = await this.#parse()
    try {
      return await this.#driver.transaction(async (run) => {
        const result = await fn(transactionHandle(run, written, parse))
        committing = true
        return result
      })
    } finally {
      // A failed COMMIT may still have committed (lost connection): invalidate once COMMIT was sent.
      if (committing && written.size > 0) await this.#invalidateNames([...written])
    }
  }

  /** Drops one cached query. */
  async invalidate(sql: string, params?: SqlParams): Promise<boolean> {
    return this.cache.delete(await this.key(sql, params))
  }

  /** Drops every cached query reading one of these tables ('orders', 'sales.orders', '"Orders"'). */
  invalidateTables(tables: readonly string[]): Promise<number> {
    return this.#invalidateNames(tables.map(tableName))
  }

  /** Drops every cached entry carrying one of these tags. */
  invalidateTags(tags: readonly string[]): Promise<number> {
    return this.cache.invalidateTags(tags)
  }

  /** Runs each query (fresh, sequentially) and caches its rows; failures are counted, not thrown. */
  async warmUp(queries: readonly WarmUpQuery[]): Promise<WarmUpResult> {
    const started = performance.now()
    const errors: WarmUpResult['errors'] = []
    for (const [index, item] of queries.entries()) {
      try {
        await this.query(item.sql, item.params, { ttl: item.ttl, tags: item.tags, forceRefresh: true })
      } catch (error) {
        errors.push({ index, error })
      }
    }
    return {
      warmed: queries.length - errors.length,
      failed: errors.length,
      durationMs: performance.now() - started,
      errors,
    }
  }

  /**
   * Invalidates the queries reading a table whenever a trigger installed by installInvalidationTriggers()
   * notifies `channel` — that is, after any committed write to it, by cachet or not. Resolves once LISTEN
   * is active; throws if the first connection fails. A pg Pool lends it one connection for good, re-opened
   * when it drops; as notifications sent meanwhile are lost, every entry of this namespace is then dropped.
   */
  async listen(options: { channel?: string } = {}): Promise<void> {
    const channel = validateChannel(options.channel ?? DEFAULT_CHANNEL)
    if (this.#listener) throw new InvalidOptionError('this query cache is already listening')
    const listener = new InvalidationListener(this.#db, channel, {
      table: (name) => void this.#invalidateNames([name]).catch(() => {}),
      gap: () => this.cache.deleteByPattern(`${this.namespace}:*`),
    })
    this.#listener = listener
    try {
      await listener.start()
    } catch (error) {
      this.#listener = undefined
      throw error
    }
  }

  /** Which SQL analyser is in use, and the invalidation listener's state. */
  async health(): Promise<QueryCacheHealth> {
    return {
      parser: await this.parser(),
      listener: this.#listener?.health() ?? { state: 'off', notifications: 0, gaps: 0 },
    }
  }

  /** The original `QueryCache`'s figures for this process, and the `top` queries by database time saved. */
  stats(top = 10): QueryCacheStats & { parser: SqlParserStatus['kind'] | 'loading' } {
    return { ...this.#stats.snapshot(top), parser: this.#parserStatus?.kind ?? 'loading' }
  }

  resetStats(): void {
    this.#stats.reset()
  }

  /** Stops listening (closes neither the cache nor the database). */
  async close(): Promise<void> {
    await this.#listener?.close()
  }

  async #parse(): Promise<ParseSql | undefined> {
    return (await this.#parser).parse
  }

  #invalidateNames(tables: readonly string[]): Promise<number> {
    return this.cache.invalidateTags([...new Set(tables)].map(tableTag))
  }

  /** A per-call ttl wins; else the adaptive TTL; else defaultTtl; else the engine's. */
  #ttlOptions(ttl: Duration | undefined): Pick<CallOptions, 'ttl' | 'adaptiveTtl'> {
    if (ttl !== undefined) return { ttl, adaptiveTtl: false }
    if (this.adaptiveTtl) return { adaptiveTtl: true }
    return this.defaultTtl === undefined
      ? { adaptiveTtl: false }
      : { ttl: this.defaultTtl, adaptiveTtl: false }
  }
}

function transactionHandle(run: Run, written: Set<string>, parse: ParseSql | undefined): SqlTransaction {
  const execute = async <T>(sql: string, params?: SqlParams, options: ExecuteOptions = {}) => {
    const bound = bindParams(sql, analyzeSql(sql).tokens, params)
    // Recorded before running: if the statement fails, the transaction cannot commit it, and an
    // invalidation after a COMMIT that PostgreSQL turned into ROLLBACK only costs a reload.
    for (const table of sqlFindings(bound.text, parse).writes) written.add(table)
    for (const table of options.invalidates ?? []) written.add(tableName(table))
    return (await run(bound.text, bound.values)) as SqlResult<T>
  }
  return {
    execute,
    query: async <T>(sql: string, params?: SqlParams) => (await execute<T>(sql, params)).rows,
  }
}
