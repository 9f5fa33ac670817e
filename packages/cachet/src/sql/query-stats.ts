/** Figures of one query (one cache key). */
export interface QueryFigures {
  key: string
  /** The normalized SQL, cut at 200 characters. */
  sql: string
  hits: number
  misses: number
  avgQueryTimeMs: number
  /** Database time the hits avoided: hits × average query time. */
  savedMs: number
}

/** The replaced SQL cache's `CacheStats`, plus the queries that saved the most database time. */
export interface QueryCacheStats {
  hits: number
  misses: number
  /** hits / (hits + misses), 0..1. */
  hitRatio: number
  /** Average time of a query run against the database. */
  avgQueryTimeMs: number
  /** Average time of a query answered without the database. */
  avgCacheTimeMs: number
  /** Highest savedMs first. */
  topQueries: QueryFigures[]
}

interface PerQuery {
  sql: string
  hits: number
  misses: number
  loads: number
  loadMs: number
}

/** Counters of one query cache, in this process; per-query figures for at most `maxQueries` keys. */
export class QueryStats {
  #hits = 0
  #misses = 0
  #loads = 0
  #loadMs = 0
  #cacheMs = 0
  #queries = new Map<string, PerQuery>()
  readonly #maxQueries: number

  constructor(maxQueries = 500) {
    this.#maxQueries = maxQueries
  }

  /** A call answered from the cache (or by joining a load already running). */
  hit(key: string, sql: string, ms: number): void {
    this.#hits++
    this.#cacheMs += ms
    this.#query(key, sql).hits++
  }

  /** A call that ran the SQL. */
  miss(key: string, sql: string): void {
    this.#misses++
    this.#query(key, sql).misses++
  }

  /** One run of the SQL (a miss, a forced refresh, a warm-up or a background refresh). */
  load(key: string, sql: string, ms: number): void {
    this.#loads++
    this.#loadMs += ms
    const query = this.#query(key, sql)
    query.loads++
    query.loadMs += ms
  }

  snapshot(top = 10): QueryCacheStats {
    const calls = this.#hits + this.#misses
    const figures = [...this.#queries].map(([key, query]) => figuresOf(key, query))
    figures.sort((a, b) => b.savedMs - a.savedMs)
    return {
      hits: this.#hits,
      misses: this.#misses,
      hitRatio: calls === 0 ? 0 : this.#hits / calls,
      avgQueryTimeMs: this.#loads === 0 ? 0 : this.#loadMs / this.#loads,
      avgCacheTimeMs: this.#hits === 0 ? 0 : this.#cacheMs / this.#hits,
      topQueries: figures.slice(0, top),
    }
  }

  reset(): void {
    this.#hits = this.#misses = this.#loads = this.#loadMs = this.#cacheMs = 0
    this.#queries.clear()
  }

  #query(key: string, sql: string): PerQuery {
    let query = this.#queries.get(key)
    if (query) return query
    if (this.#queries.size >= this.#maxQueries) this.#evictLeastUseful()
    query = { sql: sql.length > 200 ? `${sql.slice(0, 199)}…` : sql, hits: 0, misses: 0, loads: 0, loadMs: 0 }
    this.#queries.set(key, query)
    return query
  }

  /** Bounded memory: the query that saved the least gives way. */
  #evictLeastUseful(): void {
    let victim: string | undefined
    let least = Number.POSITIVE_INFINITY
    for (const [key, query] of this.#queries) {
      const saved = figuresOf(key, query).savedMs
      if (saved < least) {
        least = saved
        victim = key
      }
    }
    if (victim !== undefined) this.#queries.delete(victim)
  }
}

function figuresOf(key: string, query: PerQuery): QueryFigures {
  const avgQueryTimeMs = query.loads === 0 ? 0 : query.loadMs / query.loads
  return {
    key,
    sql: query.sql,
    hits: query.hits,
    misses: query.misses,
    avgQueryTimeMs,
    savedMs: query.hits * avgQueryTimeMs,
  }
}
