import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { cacheResponse } from 'cachet/express'
import { fastifyCache } from 'cachet/fastify'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import { cachet } from '../contenders.js'
import { profileValue } from '../fixtures.js'
import { median, QUICK } from '../harness.js'
import { goal, type Row, type ScenarioResult } from '../report.js'

/** Connections autocannon keeps open, one request in flight on each. */
const CONNECTIONS = 32
const SAMPLE_SECONDS = QUICK ? 1 : 2
const ROUNDS = QUICK ? 1 : 5
const ROUTE = '/api/dashboard'

/** One HTTP server under test: a name and the URL of its route. */
interface Target {
  name: string
  url: string
  close: () => Promise<void>
}

/** What one autocannon run reports (the fields used here). */
interface AutocannonResult {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number }
  errors: number
  timeouts: number
  non2xx: number
}

const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js')

/**
 * Runs autocannon in its own process (pinned to `core` when given): in this process it would take
 * the servers' core, and every contender would be measured against its own load generator.
 */
async function autocannon(url: string, seconds: number, core: number | undefined): Promise<AutocannonResult> {
  const args = [autocannonBin, '-c', String(CONNECTIONS), '-d', String(seconds), '-j', url]
  const child =
    core === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn('taskset', ['-c', String(core), process.execPath, ...args], {
          stdio: ['ignore', 'pipe', 'inherit'],
        })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
  })
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`autocannon exited with ${code}`)
  return JSON.parse(out) as AutocannonResult
}

async function listenFastify(app: FastifyInstance, name: string): Promise<Target> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return { name, url: `http://127.0.0.1:${port}${ROUTE}`, close: () => app.close() }
}

async function listenExpress(app: express.Express, name: string): Promise<Target> {
  const server: Server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    name,
    url: `http://127.0.0.1:${port}${ROUTE}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The first request fills the cache; the second must be a hit, or the figures measure something else. */
async function expectHit(target: Target): Promise<void> {
  await fetch(target.url).then((response) => response.arrayBuffer())
  const response = await fetch(target.url)
  await response.arrayBuffer()
  const xCache = response.headers.get('x-cache')
  if (xCache !== 'HIT') throw new Error(`${target.name}: second request answered x-cache ${xCache}, not HIT`)
}

/**
 * 6. HTTP: requests/s of a cached route (L1 + L2 on the bench's Redis, defaults) against the same
 * route answering the same 1 KB constant without cachet, on Fastify and on Express, measured with
 * autocannon (32 connections). Servers are sampled interleaved, as in the other scenarios; "node
 * CPU/op" is the servers' process CPU per request (autocannon runs in another process).
 */
export async function http(port: number, loadCore?: number): Promise<ScenarioResult> {
  const value = profileValue()
  const cache = cachet(port)

  const fastifyBare = Fastify()
  fastifyBare.get(ROUTE, async () => value)
  const fastifyCached = Fastify()
  await fastifyCached.register(fastifyCache, { cache })
  fastifyCached.get(ROUTE, { config: { cache: { type: 'dashboard' } } }, async () => value)

  const expressBare = express()
  expressBare.get(ROUTE, (_req, res) => {
    res.json(value)
  })
  const expressCached = express()
  expressCached.get(ROUTE, cacheResponse({ cache, type: 'dashboard' }), (_req, res) => {
    res.json(value)
  })

  const targets = [
    await listenFastify(fastifyBare, 'Fastify, constant (no cachet)'),
    await listenFastify(fastifyCached, 'Fastify + cachet/fastify (L1 + L2)'),
    await listenExpress(expressBare, 'Express, constant (no cachet)'),
    await listenExpress(expressCached, 'Express + cachet/express (L1 + L2)'),
  ]
  try {
    await expectHit(targets[1]!)
    await expectHit(targets[3]!)
    for (const target of targets) await autocannon(target.url, 1, loadCore)
    cache.resetStats()
    const results = targets.map(() => [] as Array<AutocannonResult & { cpuNsPerRequest: number }>)
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < targets.length; i++) {
        const index = (i + round) % targets.length
        const cpu = process.cpuUsage()
        const result = await autocannon(targets[index]!.url, SAMPLE_SECONDS, loadCore)
        const used = process.cpuUsage(cpu)
        const cpuNsPerRequest = ((used.user + used.system) * 1000) / Math.max(1, result.requests.total)
        results[index]!.push({ ...result, cpuNsPerRequest })
      }
    }
    const stats = cache.stats()
    const row = (index: number, baseline: number): Row => {
      const rps = median(results[index]!.map((r) => r.requests.average))
      const base = median(results[baseline]!.map((r) => r.requests.average))
      const failed = results[index]!.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0)
      const p99 = median(results[index]!.map((r) => r.latency.p99))
      return {
        contender: targets[index]!.name,
        opsPerSec: rps,
        nsPerOp: 1e9 / rps,
        cpuNsPerOp: median(results[index]!.map((r) => r.cpuNsPerRequest)),
        ratio: rps / base,
        note: `p99 ${p99} ms${failed > 0 ? `, ${failed} failed request(s): figure not clean` : ''}`,
      }
    }
    const fastifyRows = [row(0, 0), row(1, 0)]
    const expressRows = [row(2, 2), row(3, 2)]
    const hitNote = `cachet counted ${stats.hits} hits, ${stats.misses} misses, ${stats.errors} errors (both routes)`
    expressRows[1]!.note += ` · ${hitNote}`
    return {
      id: 'http',
      title: `6. HTTP, 1 KB JSON route, autocannon ${CONNECTIONS} connections, ${SAMPLE_SECONDS} s samples`,
      tables: [
        { title: 'Fastify', ratioOf: 'requests/s ÷ the route without cachet', rows: fastifyRows },
        { title: 'Express', ratioOf: 'requests/s ÷ the route without cachet', rows: expressRows },
      ],
      goals: [
        goal('HTTP, Fastify cached route', fastifyRows[1]!.ratio, '>=', 0.7),
        goal('HTTP, Express cached route', expressRows[1]!.ratio, '>=', 0.7),
      ],
    }
  } finally {
    for (const target of targets) await target.close()
    await cache.close()
  }
}
