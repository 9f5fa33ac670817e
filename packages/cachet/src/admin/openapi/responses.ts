/** JSON schemas of the admin API's answers, for its OpenAPI document (docs/admin.md). */

type Schema = Record<string, unknown>

const string = { type: 'string' }
const integer = { type: 'integer' }
const number = { type: 'number' }
const boolean = { type: 'boolean' }
const nullable = (schema: Schema): Schema => ({ anyOf: [schema, { type: 'null' }] })
const object = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
})

/** The admin API's original envelope: `{ success: true, data | stats | details, message?, timestamp }`. */
export function envelope(fields: Record<string, Schema>, required: string[] = []): Schema {
  return object({ success: { const: true }, message: string, timestamp: string, ...fields }, [
    'success',
    'timestamp',
    ...required,
  ])
}

export const errorAnswer = object(
  {
    success: { const: false },
    error: { type: 'string', pattern: '^E_' },
    message: string,
    timestamp: string,
  },
  ['success', 'error', 'message', 'timestamp'],
)

const circuit = { enum: ['closed', 'open', 'half-open'] }
const counters = object(
  {
    hits: integer,
    misses: integer,
    staleHits: integer,
    errors: integer,
    invalid: integer,
    hitRate: number,
    loads: integer,
    loaderMs: number,
    cacheMs: number,
  },
  ['hits', 'misses', 'staleHits', 'errors', 'hitRate'],
)

export const healthAnswer = object(
  {
    success: boolean,
    instance: string,
    status: { enum: ['healthy', 'warming', 'degraded', 'unhealthy'] },
    warmup: object(
      {
        jobId: string,
        modules: { type: 'array', items: string },
        modulesWarmed: { type: 'array', items: string },
        current: object({ module: string, keys: integer }, ['module', 'keys']),
        keysCreated: integer,
        startedAt: string,
      },
      ['jobId', 'modules', 'modulesWarmed', 'keysCreated', 'startedAt'],
    ),
    redis: object({ configured: boolean, connected: boolean, latency: string, latencyMs: number, circuit }, [
      'configured',
      'connected',
    ]),
    reasons: { type: 'array', items: string },
    advice: {
      type: 'array',
      items: object({ code: string, message: string, fix: string }, ['code', 'message', 'fix']),
    },
    timestamp: string,
  },
  ['success', 'instance', 'status', 'redis', 'reasons', 'advice', 'timestamp'],
)

/** Seed 001's block: hit_rate is a percentage (89.07), not a ratio. */
const seedCacheStats = object(
  {
    hits: integer,
    misses: integer,
    errors: integer,
    total_requests: integer,
    hit_rate: { type: 'number', minimum: 0, maximum: 100 },
    is_available: boolean,
  },
  ['hits', 'misses', 'errors', 'total_requests', 'hit_rate', 'is_available'],
)

export const statsAnswer = envelope(
  {
    status: { const: 'success' },
    cache_stats: seedCacheStats,
    data: object(
      {
        memory: string,
        keyCount: integer,
        hitRate: string,
        uptime: string,
        connected: boolean,
        version: string,
        status: string,
        cache: {
          ...counters,
          properties: { ...(counters.properties as Schema), namespaces: { type: 'object' } },
        },
        redis: object({ configured: boolean, connected: boolean, circuit }),
        namespaces: { type: 'object', additionalProperties: { type: 'object' } },
        namespaceScan: nullable(object({ keysScanned: integer, complete: boolean, at: string })),
      },
      ['keyCount', 'hitRate', 'connected', 'status', 'cache', 'redis', 'namespaces'],
    ),
  },
  ['status', 'cache_stats', 'data'],
)

const percentiles = nullable(object({ p50: number, p99: number }, ['p50', 'p99']))
const historyPoints = {
  type: 'array',
  items: object(
    {
      at: integer,
      hitRate: nullable(number),
      opsPerSecond: object({ hit: number, miss: number, stale: number, error: number }, [
        'hit',
        'miss',
        'stale',
        'error',
      ]),
      readMs: percentiles,
      loaderMs: percentiles,
      l1Bytes: nullable(integer),
      redisMemoryBytes: nullable(integer),
      l2Errors: integer,
      circuit: { enum: [0, 1, 2, null] },
    },
    [
      'at',
      'hitRate',
      'opsPerSecond',
      'readMs',
      'loaderMs',
      'l1Bytes',
      'redisMemoryBytes',
      'l2Errors',
      'circuit',
    ],
  ),
}
export const historyAnswer = envelope(
  {
    data: object(
      {
        instance: string,
        shared: boolean,
        intervalMs: integer,
        windowMs: integer,
        points: historyPoints,
        of: string,
        series: {
          type: 'array',
          items: object({ instance: string, self: boolean, points: historyPoints }, [
            'instance',
            'self',
            'points',
          ]),
        },
      },
      ['instance', 'shared', 'intervalMs', 'windowMs', 'points'],
    ),
  },
  ['data'],
)

const lifetime = { freshUntil: number, staleUntil: number, freshForMs: integer, staleForMs: integer }
const pagination = object(
  { returned: integer, limit: integer, nextCursor: nullable(string), hasMore: boolean },
  ['returned', 'limit', 'nextCursor', 'hasMore'],
)

export const keysAnswer = envelope(
  {
    data: object(
      {
        keys: {
          type: 'array',
          items: object(
            {
              key: string,
              type: string,
              ttl: integer,
              ttlMs: integer,
              size: string,
              bytes: integer,
              ...lifetime,
            },
            ['key', 'type', 'ttl'],
          ),
        },
        pagination: {
          ...pagination,
          properties: { total: integer, ...(pagination.properties as Schema) },
          required: ['total', ...(pagination.required as string[])],
        },
      },
      ['keys', 'pagination'],
    ),
  },
  ['data'],
)

export const keyAnswer = envelope(
  {
    data: object(
      {
        key: string,
        state: { enum: ['fresh', 'stale', 'tombstone', 'foreign'] },
        tags: { type: 'array', items: string },
        createdAt: number,
        ...lifetime,
        etag: string,
        lastModified: number,
        ttl: integer,
        ttlMs: integer,
        size: string,
        storedBytes: integer,
        compressed: boolean,
        value: {},
        preview: string,
        truncated: boolean,
        valueHidden: { const: true },
      },
      ['key', 'state', 'tags', 'ttl', 'storedBytes', 'compressed'],
    ),
  },
  ['data'],
)

export const keyChangeAnswer = envelope(
  { data: object({ key: string, ttlMs: integer, deleted: boolean }, ['key']) },
  ['data'],
)

const countMap = { type: 'object', additionalProperties: nullable(integer) }
export const clearAnswer = envelope(
  {
    stats: object({ keysDeleted: integer, keysMatched: integer, duration: string }, ['duration']),
    details: object({ pattern: string, sample: { type: 'array', items: string } }),
  },
  ['stats'],
)

export const invalidateAnswer = envelope(
  {
    stats: object(
      {
        keysInvalidated: integer,
        keysMatched: integer,
        keysProcessed: integer,
        patternsProcessed: integer,
        tagsProcessed: integer,
        duration: string,
      },
      ['keysProcessed', 'patternsProcessed', 'tagsProcessed', 'duration'],
    ),
    details: object(
      {
        keys: { type: 'array', items: string },
        keyCounts: countMap,
        patterns: countMap,
        tags: countMap,
        samples: { type: 'object' },
      },
      ['keys', 'keyCounts', 'patterns', 'tags'],
    ),
  },
  ['stats', 'details'],
)

const warmupSummary = object(
  {
    modulesWarmed: { type: 'array', items: string },
    keysCreated: integer,
    duration: string,
    errors: integer,
  },
  ['modulesWarmed', 'keysCreated', 'duration', 'errors'],
)
const jobState = object(
  {
    id: string,
    status: { enum: ['running', 'completed', 'aborted'] },
    modules: { type: 'array', items: string },
  },
  ['id', 'status'],
)
const links = object({ self: string, events: string }, ['self', 'events'])

export const warmupRunAnswer = envelope(
  {
    stats: warmupSummary,
    details: object({ jobId: string, status: string, results: { type: 'array' }, links }, [
      'jobId',
      'status',
      'results',
    ]),
  },
  ['stats', 'details'],
)

export const warmupStartedAnswer = envelope(
  { data: object({ jobId: string, status: { const: 'running' }, links }, ['jobId', 'status', 'links']) },
  ['data'],
)

export const warmupListAnswer = envelope(
  {
    data: object(
      {
        modules: { type: 'array', items: { type: 'object' } },
        status: nullable(jobState),
        jobs: { type: 'array', items: jobState },
      },
      ['modules', 'status', 'jobs'],
    ),
  },
  ['data'],
)

export const warmupJobAnswer = envelope({ data: jobState, stats: warmupSummary }, ['data', 'stats'])

export const auditAnswer = envelope(
  {
    data: object(
      {
        sink: { enum: ['redis', 'memory'] },
        records: {
          type: 'array',
          items: object(
            {
              id: string,
              at: integer,
              who: string,
              ip: string,
              action: string,
              params: {},
              outcome: { enum: ['ok', 'denied', 'error', 'dry-run'] },
              status: integer,
              keysAffected: integer,
              durationMs: number,
              reason: string,
              count: integer,
            },
            ['at', 'who', 'ip', 'action', 'outcome', 'status', 'keysAffected'],
          ),
        },
        pagination,
      },
      ['sink', 'records', 'pagination'],
    ),
  },
  ['data'],
)

export const openApiAnswer = object(
  { openapi: string, info: { type: 'object' }, paths: { type: 'object' } },
  ['openapi', 'info', 'paths'],
)

const nullableNumber = nullable(number)
export const writeBehindAnswer = envelope(
  {
    data: object(
      {
        writeBehinds: {
          type: 'array',
          items: object(
            {
              name: string,
              status: { enum: ['healthy', 'degraded', 'unhealthy'] },
              backlog: nullableNumber,
              backlogAgeMs: nullableNumber,
              flushRate: nullableNumber,
              flushed: nullableNumber,
              failures: nullableNumber,
              deadLettered: nullableNumber,
              lastError: string,
              journal: object({ aof: boolean, appendfsync: string, maxmemoryPolicy: string }, [
                'aof',
                'appendfsync',
                'maxmemoryPolicy',
              ]),
              reasons: { type: 'array', items: string },
            },
            [
              'name',
              'status',
              'backlog',
              'backlogAgeMs',
              'flushRate',
              'flushed',
              'failures',
              'deadLettered',
              'journal',
              'reasons',
            ],
          ),
        },
      },
      ['writeBehinds'],
    ),
  },
  ['data'],
)
