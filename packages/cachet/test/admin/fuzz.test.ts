import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { race } from '../../src/core/timeouts.js'
import { ADMIN, type AdminHarness, seed, signJwt, startAdmin } from './setup.js'

let h: AdminHarness
let credentials: Array<Record<string, string>>

/** Keys outside the cache prefix, some of them lookalikes: no admin call may touch them. */
const FOREIGN = ['foreign:1', 'cachex:users:0', 'Cache:users:0', 'cache', 'cache-users:0', 'users:0']

beforeAll(async () => {
  h = await startAdmin({ limits: { bodyBytes: 4096 } })
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  credentials = [
    ADMIN,
    ADMIN,
    {},
    bearer(await signJwt({ role: 'admin', sub: 'fuzz-admin' })),
    bearer(await signJwt({ role: 'viewer', sub: 'fuzz-viewer' })),
    bearer('not-a-token'),
    { authorization: 'Basic Zm9vOmJhcg==' },
  ]
})
afterAll(async () => h.close())

async function foreignState(): Promise<string> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await h.client.scan(cursor, 'COUNT', 1000)
    cursor = next
    keys.push(...batch.filter((key) => !key.startsWith('cache:')))
  } while (cursor !== '0')
  keys.sort()
  const dumps = await Promise.all(keys.map(async (key) => (await h.client.dumpBuffer(key))?.toString('hex')))
  return JSON.stringify(keys.map((key, i) => [key, dumps[i]]))
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('*', '**', 'users:*', '?*', '[a-z]*', '\\', '__audit', 'cache:*', '../x', '%2f', 'a\r\nb'),
  fc.string({ unit: 'binary', maxLength: 20 }),
)
const routes = ['stats', 'clear', 'clear-all', 'invalidate', 'invalidate-pattern', 'keys', 'warmup', 'audit']
const path = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      ...routes,
      'health',
      'invalidate/users',
      'keys/users:1',
      'warmup/00000000/events',
    ),
    weight: 4,
  },
  fc
    .tuple(fc.constantFrom('keys', 'invalidate', 'warmup', 'audit'), text)
    .map(([route, segment]) => `${route}/${encodeURIComponent(segment)}`),
  fc.array(text, { maxLength: 3 }).map((segments) => segments.map(encodeURIComponent).join('/')),
)
const query = fc
  .dictionary(
    fc.constantFrom('pattern', 'limit', 'cursor', 'action', 'outcome', 'confirm', '__proto__', 'x'),
    fc.oneof(text, fc.integer().map(String)),
    { maxKeys: 3 },
  )
  .map((entries) => new URLSearchParams(entries).toString())
const fields = fc.record(
  {
    pattern: text,
    patterns: fc.array(text, { maxLength: 3 }),
    keys: fc.array(text, { maxLength: 3 }),
    tags: fc.array(text, { maxLength: 3 }),
    confirm: fc.oneof(fc.boolean(), text),
    dryRun: fc.boolean(),
    ttl: fc.oneof(fc.integer(), text),
    modules: fc.array(text, { maxLength: 2 }),
    wait: fc.boolean(),
    force: fc.boolean(),
  },
  { requiredKeys: [] },
)
const body = fc.oneof(
  fc.constant(undefined),
  fields.map((value) => JSON.stringify(value)),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
  fc.constantFrom(
    '{',
    '{"keys":',
    '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
    '{"__proto__":{"isAdmin":true},"confirm":true}',
    '{"constructor":{"prototype":{"x":1}}}',
    '\u0000\uffff',
    '',
  ),
  fc.nat({ max: 20_000 }).map((size) => JSON.stringify({ pattern: 'x'.repeat(size) })),
)
const extraHeaders = fc.dictionary(
  fc.constantFrom(
    'x-forwarded-for',
    'forwarded',
    'x-http-method-override',
    'origin',
    'access-control-request-method',
    'accept',
    'content-encoding',
    'cookie',
    'x-admin-token',
  ),
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    maxLength: 60,
  }),
  { maxKeys: 3 },
)
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  undefined,
)

describe('admin API fuzz', () => {
  it('answers every random request with a 2xx-4xx in time and never touches a key outside the prefix', async () => {
    await seed(h.cache, 'users', 5, ['people'])
    for (const key of FOREIGN) await h.client.set(key, `foreign value of ${key}`)
    const before = await foreignState()
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'DELETE', 'GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'),
        path,
        query,
        body,
        contentType,
        extraHeaders,
        // Half of the calls carry the admin token, so the routes behind authentication are fuzzed too.
        fc.oneof(fc.constant(0), fc.nat({ max: 6 })),
        async (method, url, search, payload, type, extra, credential) => {
          const headers: Record<string, string> = { ...extra, ...credentials[credential] }
          if (type) headers['content-type'] = type
          const outcome = await race(
            h.app.inject({
              method: method as 'GET',
              url: `/api/cache/${url}${search ? `?${search}` : ''}`,
              headers,
              payload,
              remoteAddress: `10.40.${(++run >> 8) & 255}.${run & 255}`,
            }),
            5000,
          )
          expect(outcome.state, `${method} ${url}`).toBe('done')
          if (outcome.state !== 'done') return
          expect(outcome.value.statusCode, `${method} /${url}?${search}: ${outcome.value.body}`).toBeLessThan(
            500,
          )
        },
      ),
      { numRuns: 500 },
    )
    expect(await foreignState()).toBe(before)
  })
})
