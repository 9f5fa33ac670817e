import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AggregationTemporality,
  type DataPoint,
  MeterProvider,
  MetricReader,
} from '@opentelemetry/sdk-metrics'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { instrumentCachet } from '../../src/otel/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

/** A reader the test collects from on demand. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected async onForceFlush() {}
  protected async onShutdown() {}
}

let redis: TestRedis
let exporter: InMemorySpanExporter
let tracerProvider: BasicTracerProvider
let reader: TestReader
let handle: { disable(): void }
let n = 0

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})
beforeEach(() => {
  exporter = new InMemorySpanExporter()
  tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  reader = new TestReader()
  handle = instrumentCachet({ tracerProvider, meterProvider: new MeterProvider({ readers: [reader] }) })
})
afterEach(() => handle.disable())

function newCache(overrides: Parameters<typeof createCache>[0] = {}) {
  return createCache({ redis: redis.url, prefix: `otel${n++}`, logger: false, l2: RELAXED_L2, ...overrides })
}

const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name)

async function counterPoints(): Promise<Array<DataPoint<number>>> {
  const { resourceMetrics } = await reader.collect()
  const metric = resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .find((m) => m.descriptor.name === 'cachet.operations')
  return (metric?.dataPoints ?? []) as Array<DataPoint<number>>
}

describe('cachet/otel', () => {
  it('a getOrSet miss, then an L1 hit, then an L2 hit: one span each with result and tier', async () => {
    const cache = newCache()
    await cache.getOrSet('users:42', async () => ({ name: 'Ada' }), { tags: ['users'] })
    await cache.getOrSet('users:42', async () => ({ name: 'never' }))
    const other = newCache({ prefix: cache.prefix, l1: false })
    await new Promise((resolve) => setTimeout(resolve, 50)) // the write-back lands
    await other.getOrSet('users:42', async () => ({ name: 'never' }))
    const [miss, l1Hit, l2Hit] = spans('cachet getOrSet')
    expect(miss!.attributes).toMatchObject({
      'cachet.operation': 'getOrSet',
      'cachet.namespace': 'users',
      'cachet.result': 'miss',
      'cachet.tags': ['users'],
    })
    expect(l1Hit!.attributes).toMatchObject({ 'cachet.result': 'hit', 'cachet.tier': 'l1' })
    expect(l2Hit!.attributes).toMatchObject({ 'cachet.result': 'hit', 'cachet.tier': 'l2' })
    // The raw key is never an attribute value.
    for (const span of exporter.getFinishedSpans()) {
      expect(JSON.stringify(span.attributes)).not.toContain('42')
    }
    await Promise.all([cache.close(), other.close()])
  })

  it('a stale answer after a soft purge is marked stale', async () => {
    const cache = newCache()
    await cache.set('menu:1', 'v1', { tags: ['menus'], grace: '1h' })
    await cache.invalidateTags(['menus'], { mode: 'expire' })
    const value = await cache.getOrSet('menu:1', async () => {
      throw new Error('down')
    })
    expect(value).toBe('v1')
    expect(spans('cachet getOrSet')[0]!.attributes).toMatchObject({ 'cachet.result': 'stale' })
    expect(spans('cachet invalidateTags')[0]!.attributes).toMatchObject({ 'cachet.tags': ['menus'] })
    await cache.close()
  })

  it("a loader's error fails the span with the exception", async () => {
    const cache = newCache()
    await expect(
      cache.getOrSet('jobs:1', async () => {
        throw new TypeError('bad row')
      }),
    ).rejects.toThrow('bad row')
    const [span] = spans('cachet getOrSet')
    expect(span!.status.code).toBe(2) // ERROR
    expect(span!.events.map((event) => event.name)).toContain('exception')
    await cache.close()
  })

  it('batch reads count hits and misses; get and set have their own spans', async () => {
    const cache = newCache()
    await cache.set('a:1', 1)
    expect(await cache.getMany(['a:1', 'a:2'])).toEqual([1, undefined])
    expect(await cache.get('a:2')).toBeUndefined()
    expect(spans('cachet set')).toHaveLength(1)
    expect(spans('cachet getMany')[0]!.attributes).toMatchObject({
      'cachet.key_count': 2,
      'cachet.hits': 1,
      'cachet.misses': 1,
    })
    expect(spans('cachet get')[0]!.attributes).toMatchObject({ 'cachet.result': 'miss' })
    await cache.close()
  })

  it('a cachet span is a child of the span active at the call', async () => {
    // What an application's OpenTelemetry SDK sets up: the active span follows async calls.
    const manager = new AsyncLocalStorageContextManager().enable()
    context.setGlobalContextManager(manager)
    const cache = newCache()
    const tracer = tracerProvider.getTracer('app')
    const parent = tracer.startSpan('request')
    await context.with(trace.setSpan(context.active(), parent), () => cache.get('x:1'))
    parent.end()
    const [child] = spans('cachet get')
    expect(child!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId)
    await cache.close()
    context.disable()
  })

  it('counts operations by result and tier in cachet.operations', async () => {
    const cache = newCache()
    for (let i = 0; i < 3; i++) await cache.getOrSet('p:1', async () => 'v')
    const points = await counterPoints()
    const of = (result: string, tier?: string) =>
      points
        .filter(
          (p) =>
            p.attributes['cachet.operation'] === 'getOrSet' &&
            p.attributes['cachet.result'] === result &&
            p.attributes['cachet.tier'] === tier,
        )
        .reduce((sum, p) => sum + p.value, 0)
    expect(of('miss')).toBe(1)
    expect(of('hit', 'l1')).toBe(2)
    await cache.close()
  })

  it('publishes nothing once disabled', async () => {
    handle.disable()
    const cache = newCache()
    await cache.getOrSet('q:1', async () => 1)
    expect(exporter.getFinishedSpans()).toHaveLength(0)
    await cache.close()
  })
})
