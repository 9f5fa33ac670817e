/**
 * `cachet/otel`: turns cachet's TracingChannels (`cachet:getOrSet`, `cachet:get`, …) into OpenTelemetry
 * spans and metrics through `@opentelemetry/api` (an optional peer). Keys never reach a span or a
 * metric: only the operation, the key's namespace (capped), the tags, the outcome and the tier.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type * as Api from '@opentelemetry/api'
import { requirePeer } from '../core/peer.js'
import { type CacheOperationMessage, TRACED_OPERATIONS, type TracedOperation } from '../core/tracing.js'
import { createLabelCap } from '../metrics/label-cap.js'

const api = requirePeer<typeof Api>('@opentelemetry/api', 'cachet/otel')

/** Options of instrumentCachet(). */
export interface OtelOptions {
  /** @default the global tracer provider */
  tracerProvider?: Api.TracerProvider
  /** @default the global meter provider */
  meterProvider?: Api.MeterProvider
  /** Operations to trace. @default all of TRACED_OPERATIONS */
  operations?: readonly TracedOperation[]
  /** Distinct namespaces kept as attribute values; later ones become 'other'. @default 100 */
  maxNamespaces?: number
}

const SCOPE = 'cachet'

/**
 * Subscribes to cachet's TracingChannels: one INTERNAL span per call (`cachet <operation>`, a child of
 * the span active when the call started), the `cachet.operations` counter and the
 * `cachet.operation.duration` histogram (seconds). Returns a handle that unsubscribes.
 */
export function instrumentCachet(options: OtelOptions = {}): { disable(): void } {
  const tracer = (options.tracerProvider ?? api.trace.getTracerProvider()).getTracer(SCOPE)
  const meter = (options.meterProvider ?? api.metrics.getMeterProvider()).getMeter(SCOPE)
  const operations = meter.createCounter('cachet.operations', {
    description: 'cachet calls by operation, outcome (hit, miss, stale), tier and namespace',
  })
  const duration = meter.createHistogram('cachet.operation.duration', {
    description: 'Duration of cachet calls',
    unit: 's',
  })
  const capNamespace = createLabelCap(options.maxNamespaces ?? 100)
  const open = new WeakMap<object, { span: Api.Span; started: number }>()

  const handlers = {
    start(message: CacheOperationMessage) {
      const span = tracer.startSpan(`cachet ${message.operation}`, {
        kind: api.SpanKind.INTERNAL,
        attributes: {
          'cachet.operation': message.operation,
          'cachet.prefix': message.prefix,
          ...(message.namespace !== undefined && { 'cachet.namespace': capNamespace(message.namespace) }),
          ...(message.keyCount !== undefined && { 'cachet.key_count': message.keyCount }),
          ...(message.tags && message.tags.length > 0 && { 'cachet.tags': [...message.tags] }),
        },
      })
      open.set(message, { span, started: performance.now() })
    },
    error(message: CacheOperationMessage) {
      const call = open.get(message)
      if (!call) return
      const error = message.error instanceof Error ? message.error : new Error(String(message.error))
      call.span.recordException(error)
      call.span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message })
    },
    asyncEnd(message: CacheOperationMessage) {
      const call = open.get(message)
      if (!call) return
      open.delete(message)
      const outcome = {
        ...(message.outcome !== undefined && { 'cachet.result': message.outcome }),
        ...(message.tier !== undefined && { 'cachet.tier': message.tier }),
      }
      call.span.setAttributes({
        ...outcome,
        ...(message.keyCount !== undefined && {
          'cachet.hits': message.hits,
          'cachet.misses': message.misses,
        }),
      })
      call.span.end()
      const attributes = {
        'cachet.operation': message.operation,
        ...outcome,
        ...(message.namespace !== undefined && { 'cachet.namespace': capNamespace(message.namespace) }),
        ...(message.error !== undefined && { 'error.type': errorType(message.error) }),
      }
      operations.add(1, attributes)
      duration.record((performance.now() - call.started) / 1000, attributes)
    },
  }
  // start, end, asyncStart, asyncEnd and error must all be given to subscribe().
  const subscriber = {
    end() {},
    asyncStart() {},
    ...handlers,
  } as unknown as diagnosticsChannel.TracingChannelSubscribers<object>
  const channels = (options.operations ?? TRACED_OPERATIONS).map((operation) =>
    diagnosticsChannel.tracingChannel(`cachet:${operation}`),
  )
  for (const channel of channels) channel.subscribe(subscriber)
  return {
    disable() {
      for (const channel of channels) channel.unsubscribe(subscriber)
    },
  }
}

function errorType(error: unknown): string {
  return error instanceof Error ? error.name : 'Error'
}
