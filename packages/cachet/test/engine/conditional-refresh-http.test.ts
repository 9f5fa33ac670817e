import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache, type LoaderContext } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

/** The upstream: one JSON document with an ETag and Last-Modified, answering 304 to a matching If-None-Match. */
const upstream = {
  body: JSON.stringify({ title: 'Pricing', version: 1 }),
  modified: new Date('2026-11-30T12:00:00.000Z'),
  failing: false,
  answers: [] as number[],
}
const etagOf = (body: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`

let server: Server
let url: string
let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
  server = createServer((request, response) => {
    const etag = etagOf(upstream.body)
    const status = upstream.failing ? 503 : request.headers['if-none-match'] === etag ? 304 : 200
    upstream.answers.push(status)
    if (status === 503) return response.writeHead(503).end()
    response.writeHead(status, {
      etag,
      'last-modified': upstream.modified.toUTCString(),
      'content-type': 'application/json',
    })
    response.end(status === 200 ? upstream.body : undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pricing`
})
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  await redis.stop()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Pricing {
  title: string
  version: number
}

/** The loader the README shows: a conditional GET that renews the cached copy on 304. */
async function loadPricing(ctx: LoaderContext<Pricing>): Promise<Pricing> {
  const headers: Record<string, string> = {}
  if (ctx.etag) headers['if-none-match'] = ctx.etag
  if (ctx.lastModified) headers['if-modified-since'] = ctx.lastModified.toUTCString()
  const response = await fetch(url, { headers })
  if (response.status === 304) return ctx.notModified()
  if (!response.ok) return ctx.fail(new Error(`pricing answered ${response.status}`))
  const etag = response.headers.get('etag')
  if (etag) ctx.setEtag(etag)
  const modified = response.headers.get('last-modified')
  if (modified) ctx.setLastModified(modified)
  return (await response.json()) as Pricing
}

describe('conditional refresh against a real HTTP server (ETag / 304)', () => {
  it('asks with If-None-Match, renews on 304, replaces on 200, serves stale on 503', async () => {
    const a = createCache({ redis: redis.url, prefix: 'cond', logger: false, l2: RELAXED_L2, jitter: 0 })
    const b = createCache({ redis: redis.url, prefix: 'cond', logger: false, l2: RELAXED_L2, jitter: 0 })
    const options = { ttl: 150, timeouts: { soft: '5s' } } as const

    expect(await a.getOrSet('pricing', loadPricing, options)).toEqual({ title: 'Pricing', version: 1 })
    expect(upstream.answers).toEqual([200])
    await sleep(300)

    // Stale: the other instance asks conditionally and gets a 304 — no body sent, the entry renewed.
    const renewed = await b.getOrSetResult('pricing', loadPricing, options)
    expect(renewed).toMatchObject({ value: { title: 'Pricing', version: 1 }, outcome: 'miss' })
    expect(upstream.answers).toEqual([200, 304])
    expect(await a.getOrSet('pricing', loadPricing, options)).toEqual({ title: 'Pricing', version: 1 })
    expect(upstream.answers).toEqual([200, 304])

    // The document changes: the next refresh gets a 200 with a new body and ETag.
    upstream.body = JSON.stringify({ title: 'Pricing', version: 2 })
    await sleep(300)
    expect(await a.getOrSet('pricing', loadPricing, options)).toEqual({ title: 'Pricing', version: 2 })
    expect(upstream.answers).toEqual([200, 304, 200])

    // The upstream fails: ctx.fail() serves the stale copy.
    upstream.failing = true
    await sleep(300)
    const failed = await b.getOrSetResult('pricing', loadPricing, options)
    expect(failed).toMatchObject({
      value: { title: 'Pricing', version: 2 },
      outcome: 'stale',
      staleReason: 'fail-safe',
    })
    expect(upstream.answers).toEqual([200, 304, 200, 503])
    await Promise.all([a.close(), b.close()])
  })
})
