import swagger from '@fastify/swagger'
import { Ajv2020 } from 'ajv/dist/2020.js'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminPlugin, createWarmupRegistry } from '../../src/admin/index.js'
import { ADMIN, type AdminHarness, seed, startAdmin } from './setup.js'

const READ_TOKEN = 'openapi-read-only-token-012345'
const READ = { authorization: `Bearer ${READ_TOKEN}` }
type Method = 'GET' | 'POST' | 'DELETE' | 'PATCH'
type Operation = { responses: Record<string, { content?: Record<string, { schema: object }> }> }

let h: AdminHarness
let doc: { openapi: string; paths: Record<string, Record<string, Operation>> }
const ajv = new Ajv2020({ strict: false, allErrors: true })

beforeAll(async () => {
  const warmers = createWarmupRegistry().register('products', async ({ set }) => {
    await set('products:1', { id: 1 })
    return { keys: 1 }
  })
  h = await startAdmin({ warmers, readTokens: [READ_TOKEN], history: { intervalMs: 100 } })
  await seed(h.cache, 'users', 3, ['people'])
  await h.cache.getOrSet('users:0', () => 'never')
  await new Promise((resolve) => setTimeout(resolve, 250))
  const response = await h.app.inject({ url: '/api/cache/openapi.json', headers: ADMIN })
  expect(response.statusCode).toBe(200)
  doc = response.json()
})
afterAll(async () => h.close())

/** '/keys/:key' → '/api/cache/keys/{key}', as the document names it. */
const documented = (route: string) => `/api/cache${route.replace(/:(\w+)/g, '{$1}')}`

/** The schema the document gives for this route's answer with this status and content type. */
function answerSchema(method: Method, route: string, status: number, type = 'application/json') {
  const operation = doc.paths[documented(route)]?.[method.toLowerCase()]
  expect(operation, `${method} ${route} is documented`).toBeDefined()
  const answer = operation!.responses[String(status)] ?? operation!.responses[`${String(status)[0]}XX`]
  expect(answer, `${method} ${route} documents ${status}`).toBeDefined()
  return answer!.content?.[type]?.schema
}

async function check(
  method: Method,
  route: string,
  url: string,
  payload?: object,
  headers: Record<string, string> = ADMIN,
) {
  const response = await h.app.inject({ method, url: `/api/cache${url}`, headers, payload })
  const schema = answerSchema(method, route, response.statusCode)
  expect(schema, `${method} ${url} → ${response.statusCode} has a JSON schema`).toBeDefined()
  const validate = ajv.compile(schema!)
  const body = response.json()
  expect(
    validate(body) ? [] : validate.errors,
    `${method} ${url} → ${response.statusCode}: ${response.body}`,
  ).toEqual([])
  return response
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and describes every registered route', () => {
    expect(doc.openapi).toBe('3.1.0')
    for (const route of h.routes.filter((r) => !r.startsWith('HEAD '))) {
      const [method, url] = route.split(' ') as [string, string]
      expect(doc.paths[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()], route).toBeDefined()
    }
  })

  it('documents requests from the zod schemas that validate them', () => {
    const clear = doc.paths['/api/cache/clear']!.post as unknown as {
      requestBody: {
        content: { 'application/json': { schema: { properties: object; additionalProperties: boolean } } }
      }
    }
    const body = clear.requestBody.content['application/json'].schema
    expect(Object.keys(body.properties).sort()).toEqual(['confirm', 'dryRun', 'pattern'])
    expect(body.additionalProperties).toBe(false)
  })

  it('refuses answers that break it', () => {
    expect(ajv.validate(answerSchema('GET', '/stats', 200)!, { success: true, timestamp: 'now' })).toBe(false)
    const point = { at: 1, hitRate: 2, opsPerSecond: { hit: 'many' } }
    const history = {
      success: true,
      timestamp: 'now',
      data: { instance: 'a', intervalMs: 1, windowMs: 1, points: [point] },
    }
    expect(ajv.validate(answerSchema('GET', '/history', 200)!, history)).toBe(false)
  })

  it('matches the real answers of every route', async () => {
    await check('GET', '/health', '/health', undefined, {})
    await check('GET', '/stats', '/stats')
    const history = await check('GET', '/history', '/history')
    expect(history.json().data.points.length).toBeGreaterThan(0)
    const all = await check('GET', '/history', '/history?instance=all')
    expect(all.json().data.series.length).toBe(1)
    await check('GET', '/history', '/history?instance=nope')
    await check('GET', '/history', '/history?instance=00000000')
    await check('GET', '/openapi.json', '/openapi.json')
    await check('GET', '/keys', '/keys?pattern=users:*')
    await check('GET', '/keys/:key', '/keys/users:1')
    await check('GET', '/keys/:key', '/keys/users:1', undefined, READ)
    await check('PATCH', '/keys/:key', '/keys/users:1', { ttl: '10m' })
    await check('DELETE', '/keys/:key', '/keys/users:1')
    await check('POST', '/clear', '/clear', { pattern: 'users:*', dryRun: true })
    await check('POST', '/clear', '/clear', { pattern: 'users:*' })
    await check('POST', '/clear-all', '/clear-all', { confirm: true, dryRun: true })
    await seed(h.cache, 'users', 3, ['people'])
    await check('DELETE', '/invalidate', '/invalidate', { keys: ['users:0'], tags: ['people'] })
    await check('POST', '/invalidate', '/invalidate', { patterns: ['users:*'], dryRun: true })
    await check('POST', '/invalidate/:type', '/invalidate/users', {})
    await check('POST', '/invalidate-pattern', '/invalidate-pattern', { pattern: 'users:*' })
    await check('POST', '/warmup', '/warmup', { force: true })
    const started = await check('POST', '/warmup', '/warmup', { wait: false, force: true })
    expect(started.statusCode).toBe(202)
    const jobId = started.json().data.jobId
    await h.warmers.job(jobId)!.done
    await check('GET', '/warmup', '/warmup')
    await check('GET', '/warmup/:jobId', `/warmup/${jobId}`)
    const events = await h.app.inject({ url: `/api/cache/warmup/${jobId}/events`, headers: ADMIN })
    expect(answerSchema('GET', '/warmup/:jobId/events', 200, 'text/event-stream')).toEqual({ type: 'string' })
    expect(events.headers['content-type']).toMatch(/^text\/event-stream/)
    await check('GET', '/audit', '/audit?limit=20')
    await check('GET', '/write-behind', '/write-behind')
  })

  it('matches the real error answers: 400, 401, 403, 404, 415', async () => {
    const errors: Array<[Method, string, string, object | undefined, Record<string, string>, number]> = [
      ['POST', '/clear', '/clear', { pattern: 'a\nb' }, ADMIN, 400],
      ['GET', '/stats', '/stats', undefined, {}, 401],
      ['POST', '/clear', '/clear', { confirm: true }, READ, 403],
      ['GET', '/keys/:key', '/keys/absent:key', undefined, ADMIN, 404],
      ['GET', '/warmup/:jobId', '/warmup/00000000-0000', undefined, ADMIN, 404],
    ]
    for (const [method, route, url, payload, headers, status] of errors) {
      const response = await check(method, route, url, payload, headers)
      expect(response.statusCode, url).toBe(status)
    }
    const text = await h.app.inject({
      method: 'POST',
      url: '/api/cache/clear',
      headers: { ...ADMIN, 'content-type': 'text/plain' },
      payload: 'x',
    })
    expect(text.statusCode).toBe(415)
    expect(ajv.validate(answerSchema('POST', '/clear', 415)!, text.json())).toBe(true)
  })
})

describe('in an app that documents itself with @fastify/swagger', () => {
  it("registers, and serves the app's document, which describes the admin routes", async () => {
    const app = Fastify({ logger: false })
    await app.register(swagger, { openapi: { openapi: '3.1.0', info: { title: 'shop', version: '2' } } })
    app.get('/products', { schema: { summary: 'products' } }, async () => [])
    await app.register(adminPlugin, { prefix: '/admin', cache: h.cache, tokens: ['t'.repeat(20)] })
    const response = await app.inject({
      url: '/admin/openapi.json',
      headers: { authorization: `Bearer ${'t'.repeat(20)}` },
    })
    expect(response.statusCode).toBe(200)
    const paths = response.json().paths
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining(['/products', '/admin/stats', '/admin/keys/{key}']),
    )
    expect(paths['/admin/clear'].post.requestBody).toBeDefined()
    await app.close()
  })
})
