import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, type AdminHarness, auditRecords, seed, startAdmin } from './setup.js'

let h: AdminHarness

beforeAll(async () => {
  h = await startAdmin({ limits: { bodyBytes: 256 * 1024 } })
  await seed(h.cache, 'users', 20)
})
afterAll(async () => h.close())

type Case = {
  name: string
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH'
  url: string
  body?: unknown
  raw?: string | Buffer
  contentType?: string
  status: number
  /** The field the message must name. */
  field: string
}

const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
const deepObject = `{"keys":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`

const CASES: Case[] = [
  {
    name: 'keys not an array',
    method: 'DELETE',
    url: '/invalidate',
    body: { keys: 'users:1' },
    status: 400,
    field: 'body.keys',
  },
  {
    name: 'key not a string',
    method: 'DELETE',
    url: '/invalidate',
    body: { keys: ['users:1', 42] },
    status: 400,
    field: 'body.keys.1',
  },
  {
    name: 'nothing to invalidate',
    method: 'DELETE',
    url: '/invalidate',
    body: {},
    status: 400,
    field: 'body.keys',
  },
  {
    name: 'empty arrays',
    method: 'DELETE',
    url: '/invalidate',
    body: { keys: [], tags: [] },
    status: 400,
    field: 'body.keys',
  },
  {
    name: '1,001 keys',
    method: 'DELETE',
    url: '/invalidate',
    body: { keys: Array.from({ length: 1001 }, (_, i) => `k:${i}`) },
    status: 400,
    field: 'body.keys',
  },
  {
    name: 'reserved key',
    method: 'DELETE',
    url: '/invalidate',
    body: { keys: ['__audit'] },
    status: 400,
    field: 'body.keys.0',
  },
  {
    name: 'reserved key with prefix',
    method: 'DELETE',
    url: '/invalidate',
    body: { keys: ['cache:__tag:{x}'] },
    status: 400,
    field: 'body.keys.0',
  },
  {
    name: 'empty key',
    method: 'DELETE',
    url: '/invalidate',
    body: { keys: [''] },
    status: 400,
    field: 'body.keys.0',
  },
  {
    name: 'CRLF in key',
    method: 'DELETE',
    url: '/invalidate',
    body: { keys: ['users:1\r\nDEL x'] },
    status: 400,
    field: 'body.keys.0',
  },
  {
    name: 'bare * without confirm',
    method: 'DELETE',
    url: '/invalidate',
    body: { patterns: ['*'] },
    status: 400,
    field: 'body.patterns.0',
  },
  {
    name: 'prefixed * without confirm',
    method: 'POST',
    url: '/invalidate-pattern',
    body: { pattern: 'cache:*' },
    status: 400,
    field: 'body.confirm',
  },
  {
    name: 'leading ?* without confirm',
    method: 'DELETE',
    url: '/invalidate',
    body: { patterns: ['?*'] },
    status: 400,
    field: 'body.patterns.0',
  },
  {
    name: 'leading *a* without confirm',
    method: 'POST',
    url: '/invalidate-pattern',
    body: { pattern: '*a*' },
    status: 400,
    field: 'body.confirm',
  },
  {
    name: 'leading class, prefixed, without confirm',
    method: 'POST',
    url: '/clear',
    body: { pattern: 'cache:[a-z]*' },
    status: 400,
    field: 'body.confirm',
  },
  {
    name: 'pattern > 256 chars',
    method: 'POST',
    url: '/clear',
    body: { pattern: `${'a'.repeat(300)}*` },
    status: 400,
    field: 'body.pattern',
  },
  {
    name: 'pattern with 9 wildcards',
    method: 'POST',
    url: '/clear',
    body: { pattern: 'a*b*c*d*e*f*g*h*i*' },
    status: 400,
    field: 'body.pattern',
  },
  {
    name: 'CRLF in pattern',
    method: 'POST',
    url: '/clear',
    body: { pattern: 'users:*\r\nFLUSHALL' },
    status: 400,
    field: 'body.pattern',
  },
  {
    name: 'ANSI in pattern',
    method: 'POST',
    url: '/invalidate-pattern',
    body: { pattern: '\u001b[2Jusers:*' },
    status: 400,
    field: 'body.pattern',
  },
  {
    name: 'NUL in pattern',
    method: 'GET',
    url: '/keys?pattern=users%00*',
    status: 400,
    field: 'query.pattern',
  },
  {
    name: 'trailing backslash',
    method: 'POST',
    url: '/clear',
    body: { pattern: 'users:\\' },
    status: 400,
    field: 'body.pattern',
  },
  {
    name: 'reserved pattern',
    method: 'POST',
    url: '/clear',
    body: { pattern: '__*' },
    status: 400,
    field: 'body.pattern',
  },
  {
    name: 'pattern a number',
    method: 'POST',
    url: '/clear',
    body: { pattern: 5 },
    status: 400,
    field: 'body.pattern',
  },
  {
    name: 'confirm a string',
    method: 'POST',
    url: '/clear',
    body: { confirm: 'true' },
    status: 400,
    field: 'body.confirm',
  },
  {
    name: 'missing confirm on clear-all',
    method: 'POST',
    url: '/clear-all',
    body: {},
    status: 400,
    field: 'body.confirm',
  },
  {
    name: 'confirm false',
    method: 'POST',
    url: '/clear',
    body: { confirm: false },
    status: 400,
    field: 'body.confirm',
  },
  {
    name: 'unknown field (mass assignment)',
    method: 'POST',
    url: '/clear',
    body: { pattern: 'users:*', isAdmin: true },
    status: 400,
    field: 'isAdmin',
  },
  {
    name: '__proto__ payload',
    method: 'POST',
    url: '/clear',
    raw: '{"__proto__":{"isAdmin":true},"pattern":"users:*"}',
    status: 400,
    field: 'body',
  },
  {
    name: 'constructor.prototype payload',
    method: 'POST',
    url: '/clear',
    raw: '{"constructor":{"prototype":{"x":1}}}',
    status: 400,
    field: 'body',
  },
  { name: 'body an array', method: 'POST', url: '/clear', body: [1, 2], status: 400, field: 'body' },
  { name: 'body a string', method: 'POST', url: '/clear', raw: '"clear"', status: 400, field: 'body' },
  { name: 'invalid JSON', method: 'POST', url: '/clear', raw: '{"pattern":', status: 400, field: 'body' },
  { name: 'deep JSON array', method: 'DELETE', url: '/invalidate', raw: deep, status: 400, field: 'body' },
  {
    name: 'deep JSON object',
    method: 'DELETE',
    url: '/invalidate',
    raw: deepObject,
    status: 400,
    field: 'body.keys',
  },
  {
    name: 'oversized body',
    method: 'DELETE',
    url: '/invalidate',
    raw: JSON.stringify({ keys: Array.from({ length: 40_000 }, (_, i) => `users:${i}`) }),
    status: 413,
    field: 'body',
  },
  {
    name: 'text/plain body',
    method: 'POST',
    url: '/clear',
    raw: 'pattern=users:*',
    contentType: 'text/plain',
    status: 415,
    field: 'content-type',
  },
  {
    name: 'form body',
    method: 'POST',
    url: '/clear',
    raw: 'pattern=users',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
    field: 'content-type',
  },
  {
    name: 'invalid UTF-8',
    method: 'POST',
    url: '/clear',
    raw: Buffer.from([0x7b, 0x22, 0x70, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    status: 400,
    field: 'body',
  },
  { name: 'limit 1000', method: 'GET', url: '/keys?limit=1000', status: 400, field: 'query.limit' },
  { name: 'limit 0', method: 'GET', url: '/keys?limit=0', status: 400, field: 'query.limit' },
  { name: 'limit not a number', method: 'GET', url: '/keys?limit=ten', status: 400, field: 'query.limit' },
  { name: 'limit twice', method: 'GET', url: '/keys?limit=1&limit=2', status: 400, field: 'query.limit' },
  { name: 'bad cursor', method: 'GET', url: '/keys?cursor=abc%20def', status: 400, field: 'query.cursor' },
  {
    name: 'cursor injection',
    method: 'GET',
    url: '/keys?cursor=0%20MATCH%20*',
    status: 400,
    field: 'query.cursor',
  },
  {
    name: 'unknown query parameter',
    method: 'GET',
    url: '/keys?isAdmin=true',
    status: 400,
    field: 'isAdmin',
  },
  { name: 'bad audit cursor', method: 'GET', url: '/audit?cursor=x', status: 400, field: 'query.cursor' },
  {
    name: 'bad audit outcome',
    method: 'GET',
    url: '/audit?outcome=maybe',
    status: 400,
    field: 'query.outcome',
  },
  {
    name: 'ttl negative',
    method: 'PATCH',
    url: '/keys/users:1',
    body: { ttl: -5 },
    status: 400,
    field: 'body.ttl',
  },
  {
    name: 'ttl nonsense',
    method: 'PATCH',
    url: '/keys/users:1',
    body: { ttl: 'forever' },
    status: 400,
    field: 'body.ttl',
  },
  {
    name: 'ttl over a year',
    method: 'PATCH',
    url: '/keys/users:1',
    body: { ttl: '400d' },
    status: 400,
    field: 'body.ttl',
  },
  {
    name: 'ttl fractional milliseconds',
    method: 'PATCH',
    url: '/keys/users:1',
    body: { ttl: 1.5 },
    status: 400,
    field: 'body.ttl',
  },
  { name: 'ttl missing', method: 'PATCH', url: '/keys/users:1', body: {}, status: 400, field: 'body.ttl' },
  { name: 'reserved key in path', method: 'GET', url: '/keys/__audit', status: 400, field: 'params.key' },
  { name: 'bad type', method: 'POST', url: '/invalidate/users*', status: 400, field: 'params.type' },
  { name: 'reserved type', method: 'POST', url: '/invalidate/__tag', status: 400, field: 'params.type' },
  {
    name: 'modules not an array',
    method: 'POST',
    url: '/warmup',
    body: { modules: 'products' },
    status: 400,
    field: 'body.modules',
  },
  {
    name: 'bad module name',
    method: 'POST',
    url: '/warmup',
    body: { modules: ['../etc'] },
    status: 400,
    field: 'body.modules.0',
  },
  { name: 'bad job id', method: 'GET', url: '/warmup/not-a-job!', status: 400, field: 'params.jobId' },
  { name: 'unknown job', method: 'GET', url: '/warmup/0123456789abcdef', status: 404, field: 'params.jobId' },
]

describe('hostile and malformed input (RELIABILITY M7, S6)', () => {
  it.each(CASES)('$name → $status naming $field', async (c) => {
    const payload = c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body))
    const response = await h.app.inject({
      method: c.method,
      url: `/api/cache${c.url}`,
      headers: {
        ...ADMIN,
        ...(payload === undefined ? {} : { 'content-type': c.contentType ?? 'application/json' }),
      },
      payload,
    })
    expect(response.statusCode).toBe(c.status)
    const body = response.json()
    if (process.env.SHOW) console.log(c.name, '→', body.message)
    expect(body.success).toBe(false)
    expect(body.message).toContain(c.field)
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+|node_modules|stack/)
  })

  it('changed nothing', async () => {
    expect(await h.cache.get('users:1')).toEqual({ namespace: 'users', i: 1 })
    const { count } = await h.cache.countByPattern('users:*')
    expect(count).toBe(20)
  })

  it('audits refused mutating calls as errors, with escaped params', async () => {
    const records = await auditRecords(h.client)
    const crlf = records.find((r) => JSON.stringify(r.params).includes('FLUSHALL'))
    expect(crlf).toMatchObject({ action: 'clear', outcome: 'error', status: 400 })
    expect(JSON.stringify(crlf)).not.toContain('\\r\\n')
  })

  it('survives random bodies without a 5xx', async () => {
    const samples: unknown[] = [
      null,
      true,
      0,
      -1,
      1e308,
      '',
      [],
      {},
      { keys: null },
      { keys: [[]] },
      { keys: [{}] },
    ]
    for (let i = 0; i < 40; i++) {
      samples.push({
        keys: [String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(Math.random() * 0xffff)))],
      })
      samples.push({
        patterns: [Array.from({ length: 30 }, () => '*?[]\\^-:'[Math.floor(Math.random() * 9)]).join('')],
      })
    }
    for (const sample of samples) {
      for (const [method, url] of [
        ['DELETE', '/invalidate'],
        ['POST', '/clear'],
        ['POST', '/invalidate-pattern'],
        ['POST', '/warmup'],
      ] as const) {
        const response = await h.app.inject({
          method,
          url: `/api/cache${url}`,
          headers: { ...ADMIN, 'content-type': 'application/json' },
          payload: JSON.stringify(sample),
        })
        expect(response.statusCode, `${method} ${url} ${JSON.stringify(sample)}`).toBeLessThan(500)
      }
    }
  })
})
