import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../../cachet/test/helpers/redis-server.js'
import { DEMO_MAX_CONCURRENT_LOADS } from '../src/resources.js'
import type { RunningServer } from '../src/start.js'
import { startTestServer } from './start-test-server.js'

/**
 * The demo server under steady load from concurrent clients on its cached routes while its own
 * redis-server is frozen (SIGSTOP) for 8 s, then killed and restarted empty on the same port.
 */
const CLIENTS = 32
const THINK_MS = 50
const QUERIES = ['billing', 'auth', 'timeout', 'payment', 'cache', 'login', 'upload', 'error']
const PATHS = ['/api/dashboard', ...QUERIES.map((q) => `/api/search?q=${q}`)]

interface Sample {
  startedAt: number
  ms: number
  ok: boolean
}

let server: RunningServer
let restarted: TestRedis | undefined
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  server = await startTestServer({ CACHET_DEMO_ROWS: '5000', CACHET_DEMO_ORDER_ITEMS: '2000' })
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await restarted?.stop()
})

/** Runs CLIENTS closed-loop clients until stop() is called; each request is timed from the client. */
function loadGenerator() {
  const samples: Sample[] = []
  let running = true
  const client = async (index: number) => {
    for (let i = index; running; i++) {
      const startedAt = performance.now()
      let ok = false
      try {
        const response = await fetch(server.url + PATHS[i % PATHS.length], {
          signal: AbortSignal.timeout(10_000),
        })
        await response.arrayBuffer()
        ok = response.status === 200
      } catch {
        ok = false
      }
      samples.push({ startedAt, ms: performance.now() - startedAt, ok })
      await sleep(THINK_MS)
    }
  }
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i))
  return {
    samples,
    stop: async () => {
      running = false
      await Promise.all(clients)
    },
  }
}

/** The largest number of database queries in flight at once, from now on. */
function trackDatabaseConcurrency() {
  const db = server.resources.db
  const query = db.query.bind(db)
  let active = 0
  let peak = 0
  db.query = async (...args: Parameters<typeof query>) => {
    active++
    peak = Math.max(peak, active)
    try {
      return await query(...args)
    } finally {
      active--
    }
  }
  return {
    get peak() {
      return peak
    },
  }
}

function p99(samples: Sample[]): number {
  const sorted = samples.map((sample) => sample.ms).sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0
}

const within = (samples: Sample[], from: number, to: number) =>
  samples.filter((sample) => sample.startedAt >= from && sample.startedAt < to)

describe('the demo server through a Redis freeze and a Redis restart', () => {
  it('fails no request, keeps p99 and the slowest request bounded, and never stampedes the database', async () => {
    const redis = server.resources.redis
    if (redis.kind !== 'embedded')
      throw new Error(`the test needs the embedded redis-server, got ${redis.kind}`)
    for (const path of PATHS) expect((await fetch(server.url + path)).status).toBe(200)
    const database = trackDatabaseConcurrency()
    const load = loadGenerator()

    await sleep(4_000)
    const freezeAt = performance.now()
    process.kill(redis.process.pid, 'SIGSTOP')
    await sleep(8_000)
    process.kill(redis.process.pid, 'SIGCONT')
    const thawedAt = performance.now()
    await sleep(4_000)
    const killAt = performance.now()
    process.kill(redis.process.pid, 'SIGKILL')
    await redis.process.exited
    await sleep(4_000)
    restarted = await startRedis([], { port: redis.process.port })
    const restartedAt = performance.now()
    await sleep(5_000)
    await load.stop()

    const samples = load.samples
    const before = within(samples, 0, freezeAt)
    const frozen = within(samples, freezeAt, thawedAt + 1_000)
    const down = within(samples, killAt, restartedAt + 3_000)
    const slowest = (some: Sample[]) => Math.round(Math.max(0, ...some.map((sample) => sample.ms)))
    const figures = {
      requests: samples.length,
      failed: samples.filter((sample) => !sample.ok).length,
      p99Before: Math.round(p99(before)),
      p99Frozen: Math.round(p99(frozen)),
      p99Down: Math.round(p99(down)),
      slowestBefore: slowest(before),
      slowestSince: slowest(within(samples, freezeAt, Number.POSITIVE_INFINITY)),
      databasePeak: database.peak,
    }
    console.log(`redis outage under load: ${JSON.stringify(figures)}`)

    expect(before.length).toBeGreaterThan(200)
    expect(figures.failed).toBe(0)
    // The slowest request under 1 s; on a machine so starved that requests took a third of that before
    // Redis was touched, no slower than three times the slowest of those (docs/architecture.md).
    expect(figures.slowestSince).toBeLessThan(Math.max(1_000, 3 * figures.slowestBefore))
    expect(figures.databasePeak).toBeLessThanOrEqual(DEMO_MAX_CONCURRENT_LOADS)
    // p99 through each outage at most twice p99 before it; on this shared 2-core machine p99 before
    // can be a few tens of ms, so anything under 300 ms also passes.
    expect(figures.p99Frozen).toBeLessThanOrEqual(Math.max(2 * figures.p99Before, 300))
    expect(figures.p99Down).toBeLessThanOrEqual(Math.max(2 * figures.p99Before, 300))
  }, 120_000)
})
