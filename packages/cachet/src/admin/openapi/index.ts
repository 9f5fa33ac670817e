import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify'
import type { z as Zod } from 'zod'
import { requirePeer } from '../../core/peer.js'
import type { AdminContext } from '../context.js'
import type { Schemas } from '../schemas.js'
import * as answers from './responses.js'

const { z } = requirePeer<typeof import('zod')>('zod', 'cachet/admin')

/** The JSON schema of a zod request schema, as the caller sends it. */
function jsonSchema(schema: Zod.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })
  return rest
}

const json = (schema: Record<string, unknown>) => ({ content: { 'application/json': { schema } } })
const errors = { '4xx': json(answers.errorAnswer), '5xx': json(answers.errorAnswer) }

/** The OpenAPI description of every admin route, keyed 'METHOD /path' (relative to the plugin's prefix). */
function routeDocs(s: Schemas): Record<string, FastifySchema> {
  const doc = (
    summary: string,
    response: Record<string, unknown>,
    request: FastifySchema = {},
  ): FastifySchema => ({
    summary,
    ...request,
    response: { ...response, ...errors },
  })
  const invalidate = doc(
    'Invalidate keys, patterns and tags',
    { 200: json(answers.invalidateAnswer) },
    {
      body: jsonSchema(s.invalidate),
    },
  )
  return {
    'GET /health': {
      ...doc('Health (public)', { 200: json(answers.healthAnswer), 503: json(answers.healthAnswer) }),
      security: [],
    },
    'GET /stats': doc('Statistics', { 200: json(answers.statsAnswer) }),
    'GET /history': doc(
      'The last 15 minutes of sampled figures, of this instance or of every live instance',
      { 200: json(answers.historyAnswer) },
      { querystring: jsonSchema(s.historyQuery) },
    ),
    'GET /openapi.json': doc('This document', { 200: json(answers.openApiAnswer) }),
    'GET /keys': doc(
      'Browse keys',
      { 200: json(answers.keysAnswer) },
      { querystring: jsonSchema(s.keysQuery) },
    ),
    'GET /keys/:key': doc(
      'Inspect a key (the value for admins only)',
      { 200: json(answers.keyAnswer) },
      {
        params: jsonSchema(s.keyParams),
      },
    ),
    'PATCH /keys/:key': doc(
      "Set a key's freshness",
      { 200: json(answers.keyChangeAnswer) },
      {
        params: jsonSchema(s.keyParams),
        body: jsonSchema(s.patchKey),
      },
    ),
    'DELETE /keys/:key': doc(
      'Delete a key',
      { 200: json(answers.keyChangeAnswer) },
      { params: jsonSchema(s.keyParams) },
    ),
    'POST /clear': doc(
      'Clear by pattern (dry run first)',
      { 200: json(answers.clearAnswer) },
      { body: jsonSchema(s.clear) },
    ),
    'POST /clear-all': doc(
      'Clear everything',
      { 200: json(answers.clearAnswer) },
      { body: jsonSchema(s.clearAll) },
    ),
    'DELETE /invalidate': invalidate,
    'POST /invalidate': invalidate,
    'POST /invalidate/:type': doc(
      'Invalidate every key of a type',
      { 200: json(answers.invalidateAnswer) },
      {
        params: jsonSchema(s.typeParams),
        body: jsonSchema(s.invalidateType),
      },
    ),
    'POST /invalidate-pattern': doc(
      'Invalidate by pattern',
      { 200: json(answers.invalidateAnswer) },
      {
        body: jsonSchema(s.invalidatePattern),
      },
    ),
    'POST /warmup': doc(
      'Run warm-up modules',
      { 200: json(answers.warmupRunAnswer), 202: json(answers.warmupStartedAnswer) },
      { body: jsonSchema(s.warmup) },
    ),
    'GET /warmup': doc('Warm-up modules and recent jobs', { 200: json(answers.warmupListAnswer) }),
    'GET /warmup/:jobId': doc(
      'A warm-up job',
      { 200: json(answers.warmupJobAnswer) },
      { params: jsonSchema(s.jobParams) },
    ),
    'GET /warmup/:jobId/events': doc(
      "A warm-up job's progress as server-sent events",
      { 200: { content: { 'text/event-stream': { schema: { type: 'string' } } } } },
      { params: jsonSchema(s.jobParams) },
    ),
    'GET /write-behind': doc(
      'Health of the write-behinds: backlog, its age, flushes, dead letters, journal',
      {
        200: json(answers.writeBehindAnswer),
      },
    ),
    'GET /audit': doc(
      'The audit trail',
      { 200: json(answers.auditAnswer) },
      { querystring: jsonSchema(s.auditQuery) },
    ),
  }
}

/**
 * Describes every admin route in OpenAPI 3.1 (@fastify/swagger), from the same zod schemas that
 * validate the requests, and serves it at GET /openapi.json. The route schemas are documentation:
 * the plugin's validator and serializer compilers are no-ops, so zod stays the one validation path
 * (with its field-naming 400s and audit records) and answers are sent as they are built.
 */
export async function registerOpenApi(app: FastifyInstance, ctx: AdminContext): Promise<void> {
  const docs = routeDocs(ctx.schemas)
  app.setValidatorCompiler(() => () => true)
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  app.addHook('onRoute', (route: RouteOptions & { prefix?: string }) => {
    if (route.method === 'HEAD') return
    const path = route.url.slice((route.prefix ?? '').length) || '/'
    const schema = docs[`${String(route.method)} ${path}`]
    if (!schema) throw new Error(`admin route ${String(route.method)} ${path} has no OpenAPI description`)
    route.schema = schema
  })
  // An app that documents itself with @fastify/swagger already collects these routes: serve its document.
  if (!app.hasDecorator('swagger')) {
    const swagger = requirePeer<typeof import('@fastify/swagger')>('@fastify/swagger', 'cachet/admin')
    await app.register(swagger.default ?? swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'cachet admin API', version: '1', description: 'See docs/admin.md.' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
    })
  }
  app.get('/openapi.json', { config: { access: 'read' } }, async () => app.swagger())
}
