import { existsSync } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dashboardPlugin } from '../../src/admin/dashboard/plugin.js'
import { adminPlugin } from '../../src/admin/index.js'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { plainClient } from '../admin/setup.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

const CHROMIUM = '/usr/bin/chromium'
const TOKEN = 'instances-admin-token-0123456789'
const SCREENSHOT = '/tmp/cachet-dashboard-instances.png'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Instance {
  app: FastifyInstance
  cache: CacheApi
  client: Redis
  id: string
}

/** One instance of the deployment: its engine, the admin API on its Redis client, and the page. */
async function startInstance(redisUrl: string): Promise<Instance & { url: string }> {
  const cache = createCache({ redis: redisUrl, prefix: 'cache', logger: false, l2: RELAXED_L2 })
  const client = plainClient(redisUrl)
  const app = Fastify({ logger: false })
  await app.register(adminPlugin, {
    prefix: '/api/cache',
    cache,
    tokens: [TOKEN],
    redis: client,
    history: { intervalMs: 300 },
  })
  await app.register(dashboardPlugin, { prefix: '/cache', apiPrefix: '/api/cache' })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const id = (await app.inject({ url: '/api/cache/health' })).json().instance
  return { app, cache, client, id, url }
}

/**
 * `ms` of traffic on `cache`: `distinct` keys read round-robin (few keys: mostly hits). Each read
 * yields to the event loop, so L1 hits (which need no I/O) cannot starve the other instance and the
 * samplers of this process.
 */
async function traffic(cache: CacheApi, ms: number, distinct: number) {
  const until = Date.now() + ms
  let i = 0
  while (Date.now() < until) {
    await new Promise(setImmediate)
    await cache.getOrSet(`products:${i++ % distinct}`, async () => {
      await sleep(2)
      return { i }
    })
  }
}

describe.skipIf(!existsSync(CHROMIUM))('dashboard of a two-instance deployment in headless Chromium', () => {
  let redis: TestRedis
  let a: Instance & { url: string }
  let b: Instance & { url: string }
  let browser: Browser
  let page: Page
  const problems: string[] = []

  beforeAll(async () => {
    redis = await startRedis()
    a = await startInstance(redis.url)
    b = await startInstance(redis.url)
    // A sees a few misses a second; B mostly hits (its keys are few and cached).
    await Promise.all([traffic(a.cache, 2500, 100_000), traffic(b.cache, 2500, 5)])
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
    })
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    page.on('response', (response) => {
      if (response.status() >= 500) problems.push(`response: ${response.status()} ${response.url()}`)
    })
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    for (const instance of [a, b]) {
      await instance?.app.close()
      await instance?.cache.close()
      instance?.client.disconnect()
    }
    await redis?.stop()
  })

  const chart = (id: string) =>
    page.$eval(`#${id}`, (node) => {
      const { data, series } = (
        node as unknown as { uplot: { data: Array<Array<number | null>>; series: Array<{ label?: string }> } }
      ).uplot
      return { data, labels: series.map((s) => s.label ?? '') }
    })

  it("shows both instances' series on the page of instance A, and which instance answered", async () => {
    await page.goto(`${a.url}/cache`)
    await page.fill('#token', TOKEN)
    await page.click('#connect')
    await page.waitForSelector('#chart-ops canvas')
    await expect.poll(() => page.textContent('#trends-info')).toMatch(/2 instance\(s\)/)
    expect(await page.textContent('#trends-info')).toMatch(
      new RegExp(`^answered by instance ${a.id} · 2 instance\\(s\\) · a point every 0.3 s`),
    )
    const options = await page.$$eval('#trends-instance option', (nodes) =>
      nodes.map((node) => [(node as unknown as { value: string }).value, node.textContent]),
    )
    expect(options).toEqual([
      ['all', 'every instance (2)'],
      [a.id, `${a.id} (answered)`],
      [b.id, b.id],
    ])
    const ops = await chart('chart-ops')
    // x, then hit/miss/stale/error of A, then of B.
    expect(ops.labels.slice(1)).toEqual([
      `hit · ${a.id}`,
      `miss · ${a.id}`,
      `stale · ${a.id}`,
      `error · ${a.id}`,
      `hit · ${b.id}`,
      `miss · ${b.id}`,
      `stale · ${b.id}`,
      `error · ${b.id}`,
    ])
    const sum = (values: Array<number | null>) => values.reduce<number>((total, v) => total + (v ?? 0), 0)
    // A's traffic missed (distinct keys), B's hit: each line carries its own instance's figures.
    expect(sum(ops.data[2]!)).toBeGreaterThan(0)
    expect(sum(ops.data[5]!)).toBeGreaterThan(sum(ops.data[6]!))
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
  })

  it("draws only instance B's history once B is picked, from A's page", async () => {
    await page.selectOption('#trends-instance', b.id)
    await expect.poll(async () => (await chart('chart-ops')).labels.length).toBe(5)
    const ops = await chart('chart-ops')
    expect(ops.labels.slice(1)).toEqual(['hit', 'miss', 'stale', 'error'])
    const published = (
      await a.app.inject({
        url: `/api/cache/history?instance=${b.id}`,
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json().data.points as Array<{ at: number }>
    // The chart's times are B's sample times (a poll may have added a point since).
    const times = ops.data[0]!
    expect(times.length).toBeGreaterThan(0)
    const bTimes = new Set(published.map((p) => p.at / 1000))
    expect(times.slice(0, -1).every((t) => bTimes.has(t!))).toBe(true)
    expect(await page.inputValue('#trends-instance')).toBe(b.id)
    await page.screenshot({ path: '/tmp/cachet-dashboard-instance-b.png', fullPage: true })
    expect(problems).toEqual([])
  })
})
