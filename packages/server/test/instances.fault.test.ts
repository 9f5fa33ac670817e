import { type ChildProcess, spawn } from 'node:child_process'
import { get as httpGet } from 'node:http'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { freeLoopbackPort } from '../src/redis-process.js'
import { ADMIN_HEADERS, ADMIN_TOKEN } from './start-test-server.js'

/**
 * `npm start -- --instances 3`: three demo-server processes on one embedded Redis, under steady load
 * from concurrent clients, checked for coherence across processes.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const INSTANCES = 3
const CLIENTS = 32
const ROUNDS = 30
/** The bound this test states for an invalidation or a write to reach every instance. */
const PROPAGATION_BOUND_MS = 1_000

let child: ChildProcess
let exited: Promise<number | null>
let urls: string[] = []
let base = 0
let stdout = ''
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(async () => {
  base = await freeLoopbackPort()
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--instances', String(INSTANCES)], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(base),
      LOG_LEVEL: 'silent',
      CACHET_DEMO_ROWS: '5000',
      CACHET_DEMO_ORDER_ITEMS: '1000',
      CACHET_ADMIN_TOKEN: ADMIN_TOKEN,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk
      const line = /cachet: \d+ instances on the Redis at \S+: (.+)/.exec(stdout)
      if (line) {
        urls = line[1]!.trim().split(/\s+/)
        resolve()
      }
    })
    child.once('exit', () => reject(new Error(`npm start --instances exited early:\n${stdout}`)))
  })
}, 180_000)

afterAll(async () => {
  if (child?.exitCode === null) {
    child.kill('SIGTERM')
    await exited
  }
})

/** p-th percentile (0-100) of values. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/**
 * GET with one Host header for every instance, as behind a load balancer: the HTTP cache key holds the
 * host, so instances reached on their own ports would otherwise never share an entry. (fetch() cannot
 * set Host.)
 */
function get(
  url: string,
): Promise<{ status: number; cache?: string; key?: string; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { headers: { host: 'shop.test' }, timeout: 10_000 }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => {
        text += chunk
      })
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          cache: response.headers['x-cache'] as string | undefined,
          key: response.headers['x-cache-key'] as string | undefined,
          body: JSON.parse(text),
        }),
      )
    })
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer in 10 s`)))
    request.on('error', reject)
  })
}

/** CLIENTS closed-loop clients on every instance's dashboard and user routes, until stopped. */
function steadyLoad() {
  let running = true
  let requests = 0
  const failures: string[] = []
  const client = async (index: number) => {
    for (let i = index; running; i++) {
      const url = `${urls[i % INSTANCES]}${i % 2 === 0 ? '/api/dashboard' : `/api/users/${(i % 40) + 1}`}`
      try {
        const { status } = await get(url)
        if (status !== 200) failures.push(`${url}: ${status}`)
      } catch (error) {
        failures.push(`${url}: ${(error as Error).message}`)
      }
      requests++
      await sleep(20)
    }
  }
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i))
  return {
    stop: async () => {
      running = false
      await Promise.all(clients)
      return { requests, failures }
    },
  }
}

/** Polls `url` until `seen` holds; resolves the ms it took from `since`. */
async function until(
  url: string,
  seen: (response: Awaited<ReturnType<typeof get>>) => boolean,
  since: number,
) {
  for (;;) {
    if (seen(await get(url))) return performance.now() - since
    if (performance.now() - since > 10_000) throw new Error(`${url} did not change within 10 s`)
    await sleep(2)
  }
}

describe(`npm start -- --instances ${INSTANCES}`, () => {
  it('listens on PORT..PORT+N-1 and refuses a bad CACHET_INSTANCES', () => {
    expect(urls).toEqual(Array.from({ length: INSTANCES }, (_, i) => `http://127.0.0.1:${base + i}`))
    expect(loadConfig({ CACHET_INSTANCES: '4' }).instances).toBe(4)
    expect(loadConfig({}).instances).toBe(1)
    expect(() => loadConfig({ CACHET_INSTANCES: '0' })).toThrow(/CACHET_INSTANCES must be between 1 and 64/)
    expect(() => loadConfig({ CACHET_INSTANCES: 'many' })).toThrow(/CACHET_INSTANCES must be a number/)
  })

  it('under load: invalidations and writes reach every instance within the bound, one loader per cold key', async () => {
    const load = steadyLoad()
    const invalidations: number[] = []
    const writes: number[] = []
    let outcome: { requests: number; failures: string[] }
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const from = urls[round % INSTANCES]!
        const to = urls[(round + 1 + (Math.floor(round / INSTANCES) % (INSTANCES - 1))) % INSTANCES]!
        // A key only this round asks for, held in the L1 of both instances.
        const path = `/api/search?q=round${round}x`
        const first = await get(from + path)
        // The first instance writes Redis after answering: the other reads it from there once written
        // (and keeps it in its L1).
        await until(to + path, (response) => response.cache === 'HIT', performance.now())
        expect((await get(to + path)).cache).toBe('HIT')
        const invalidate = await fetch(`${from}/api/cache/invalidate`, {
          method: 'POST',
          headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' },
          body: JSON.stringify({ keys: [first.key!.replace(/^cache:/, '')] }),
        })
        const invalidatedAt = performance.now()
        expect(invalidate.status).toBe(200)
        invalidations.push(await until(to + path, (response) => response.cache !== 'HIT', invalidatedAt))

        // A write through one instance (PUT: database, then the user event stream) read on another.
        const id = 100 + round
        await get(`${to}/api/users/${id}`)
        const name = `Renamed in round ${round}`
        const put = await fetch(`${from}/api/users/${id}`, {
          method: 'PUT',
          headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' },
          body: JSON.stringify({ fullName: name }),
        })
        const writtenAt = performance.now()
        expect(put.status).toBe(200)
        writes.push(
          await until(`${to}/api/users/${id}`, (response) => response.body.fullName === name, writtenAt),
        )
      }

      // Cold keys asked by every instance at once: the handler runs once per key in all (the one
      // response that says MISS; the others waited for it, in this process or another).
      const l2Errors = async () => {
        let total = 0
        for (const url of urls) {
          const stats = await fetch(`${url}/api/cache/stats`, { headers: ADMIN_HEADERS })
          total += ((await stats.json()) as { data: { cache: { l2: { errors: number } } } }).data.cache.l2
            .errors
        }
        return total
      }
      const errorsBefore = await l2Errors()
      const cold = Array.from({ length: 5 }, (_, i) => `/api/search?q=cold${i}z`)
      const responses = await Promise.all(
        cold.flatMap((path) =>
          urls.flatMap((url) =>
            Array.from({ length: 10 }, () => get(url + path).then((r) => ({ path, url, ...r }))),
          ),
        ),
      )
      expect(responses.every((response) => response.status === 200)).toBe(true)
      const errorsDuring = (await l2Errors()) - errorsBefore
      // One handler run per cold key across the three processes: the one response that says MISS.
      const missesPerKey = cold.map(
        (path) => responses.filter((response) => response.path === path && response.cache === 'MISS').length,
      )
      console.log(
        `cold keys: MISS per key ${JSON.stringify(missesPerKey)}, Redis errors meanwhile ${errorsDuring}`,
      )
      expect(missesPerKey, `Redis errors meanwhile: ${errorsDuring}`).toEqual(cold.map(() => 1))
    } finally {
      outcome = await load.stop()
    }
    const figures = {
      requests: outcome.requests,
      failed: outcome.failures.length,
      invalidation: { p50: percentile(invalidations, 50), p99: percentile(invalidations, 99) },
      write: { p50: percentile(writes, 50), p99: percentile(writes, 99) },
    }
    console.log(`${INSTANCES} instances under load`, JSON.stringify(figures))
    expect(outcome.failures).toEqual([])
    expect(outcome.requests).toBeGreaterThan(500)
    expect(percentile(invalidations, 99)).toBeLessThan(PROPAGATION_BOUND_MS)
    expect(percentile(writes, 99)).toBeLessThan(PROPAGATION_BOUND_MS)
  })

  it('stops every instance and its Redis on SIGTERM', async () => {
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    for (const url of urls) await expect(fetch(`${url}/api/dashboard`)).rejects.toThrow()
  })
})
