import { readFileSync } from 'node:fs'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { type CachetMetrics, createMetrics } from '../../src/metrics/prometheus.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

interface Panel {
  id: number
  title: string
  datasource: { uid: string }
  targets: Array<{ expr: string }>
}
const dashboard = JSON.parse(
  readFileSync(new URL('../../docs/grafana/cachet.json', import.meta.url), 'utf8'),
) as {
  panels: Panel[]
  templating: { list: Array<{ query: string }> }
}

/** Grafana's import placeholder for the Prometheus data source, written literally in the JSON. */
const GRAFANA_INPUT = '$' + '{DS_PROMETHEUS}'

/** Every PromQL query of the dashboard: panel targets and template variables. */
const queries = [
  ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr)),
  ...dashboard.templating.list.map((variable) => variable.query),
]

/** The metric names a query uses that the exposition does not have (a histogram's _bucket/_sum/_count count). */
function unknownMetrics(expressions: string[], exposition: string): string[] {
  const types = new Map(
    [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1]!, match[2]!] as const),
  )
  const known = (name: string) => {
    if (types.has(name)) return true
    const base = name.replace(/_(bucket|sum|count)$/, '')
    return base !== name && types.get(base) === 'histogram'
  }
  const used = expressions.flatMap((expr) => expr.match(/\bcachet_[a-z0-9_]+/g) ?? [])
  return [...new Set(used)].filter((name) => !known(name))
}

describe('docs/grafana/cachet.json', () => {
  let redis: TestRedis
  let cache: CacheApi
  let metrics: CachetMetrics
  let exposition: string

  beforeAll(async () => {
    redis = await startRedis()
    cache = createCache({ redis: redis.url, prefix: 'cache', logger: false, bus: false })
    metrics = createMetrics(cache, { registry: new Registry() })
    await cache.getOrSet('users:1', () => ({ id: 1 }))
    await cache.getOrSet('users:1', () => ({ id: 1 }))
    exposition = await metrics.metrics()
  })
  afterAll(async () => {
    metrics.close()
    await cache.close()
    await redis.stop()
  })

  it('names, in every query, only metrics that /metrics exposes', () => {
    expect(queries.length).toBeGreaterThanOrEqual(15)
    expect(unknownMetrics(queries, exposition)).toEqual([])
  })

  it('would catch a query on a metric that does not exist', () => {
    expect(
      unknownMetrics(
        ['sum(rate(cachet_hitz_total[5m]))', 'cachet_loader_duration_seconds_bucket'],
        exposition,
      ),
    ).toEqual(['cachet_hitz_total'])
    expect(unknownMetrics(['cachet_hit_ratio_bucket'], exposition)).toEqual(['cachet_hit_ratio_bucket'])
  })

  it('charts what the dashboard page charts, on an importable data source', () => {
    const titles = dashboard.panels.map((panel) => panel.title)
    for (const topic of [/hit rate/i, /operations/i, /latency/i, /memory/i, /circuit/i, /errors/i]) {
      expect(
        titles.some((title) => topic.test(title)),
        String(topic),
      ).toBe(true)
    }
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length)
    expect(dashboard.panels.every((panel) => panel.datasource.uid === GRAFANA_INPUT)).toBe(true)
  })
})
