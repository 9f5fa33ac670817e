import { existsSync } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dashboardPlugin } from '../../src/admin/dashboard/plugin.js'
import { adminPlugin, createWarmupRegistry } from '../../src/admin/index.js'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

const CHROMIUM = '/usr/bin/chromium'
const TOKEN = 'charts-admin-token-0123456789'
const READ_TOKEN = 'charts-read-token-0123456789'
const SCREENSHOT = '/tmp/cachet-dashboard-charts.png'
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A few seconds of cache traffic: misses with a slow loader, then mostly hits. */
async function traffic(cache: CacheApi, ms: number) {
  const until = Date.now() + ms
  let i = 0
  while (Date.now() < until) {
    const key = `products:${i++ % 40}`
    await cache.getOrSet(key, async () => {
      await sleep(5 + (i % 20))
      return { id: i, name: `product ${i}` }
    })
    if (i % 25 === 0) await cache.delete(`products:${i % 40}`)
  }
}

describe.skipIf(!existsSync(CHROMIUM))('dashboard trend charts in headless Chromium', () => {
  let redis: TestRedis
  let cache: CacheApi
  let app: FastifyInstance
  let url: string
  let browser: Browser
  let page: Page
  const problems: string[] = []

  beforeAll(async () => {
    redis = await startRedis()
    cache = createCache({ redis: redis.url, prefix: 'cache', logger: false, l2: RELAXED_L2 })
    app = Fastify({ logger: false })
    await app.register(adminPlugin, {
      prefix: '/api/cache',
      cache,
      tokens: [TOKEN],
      readTokens: [READ_TOKEN],
      history: { intervalMs: 300 },
      warmers: createWarmupRegistry()
        .register('config', async ({ set }) => {
          await set('config:main', { on: true })
          return undefined
        })
        .register('catalog', async ({ cache, progress }) => {
          for (let i = 0; i < 6; i++) {
            await cache.set(`catalog:${i}`, { i })
            progress(1)
            await sleep(250)
          }
          return { keys: 6 }
        }),
    })
    await app.register(dashboardPlugin, { prefix: '/cache', apiPrefix: '/api/cache' })
    url = await app.listen({ port: 0, host: '127.0.0.1' })
    await traffic(cache, 3000)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
    })
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 } })
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await cache?.close()
    await redis?.stop()
  })

  /** The series a chart draws: uPlot's data arrays, x (seconds) first. */
  const chartData = (id: string) =>
    page.$eval(
      `#${id}`,
      (node) => (node as unknown as { uplot: { data: Array<Array<number | null>> } }).uplot.data,
    )

  it('draws the history of the past on a fresh page: hit rate, operations, latency, memory, circuit', async () => {
    await page.goto(`${url}/cache`)
    await page.fill('#token', TOKEN)
    await page.click('#connect')
    await page.waitForSelector('#chart-ops canvas')
    const ops = await chartData('chart-ops')
    expect(ops).toHaveLength(5)
    expect(ops[0]!.length).toBeGreaterThanOrEqual(5)
    expect(ops[1]!.some((hits) => (hits ?? 0) > 0)).toBe(true)
    expect(ops[2]!.some((misses) => (misses ?? 0) > 0)).toBe(true)
    const hitRate = (await chartData('chart-hit-rate'))[1]!.filter((v) => v !== null)
    expect(hitRate.length).toBeGreaterThan(0)
    expect(hitRate.every((v) => v! >= 0 && v! <= 100)).toBe(true)
    // The hit-rate axis always spans 0-100 %, whatever the data.
    const scale = await page.$eval('#chart-hit-rate', (node) => {
      const { min, max } = (node as unknown as { uplot: { scales: { y: { min: number; max: number } } } })
        .uplot.scales.y
      return [min, max]
    })
    expect(scale).toEqual([0, 100])
    const latency = await chartData('chart-latency')
    expect(latency[3]!.some((loaderP50) => (loaderP50 ?? 0) >= 5)).toBe(true)
    const memory = await chartData('chart-memory')
    expect(memory[1]!.some((l1) => (l1 ?? 0) > 0)).toBe(true)
    expect(memory[2]!.some((redisMb) => (redisMb ?? 0) > 0)).toBe(true)
    expect((await chartData('chart-l2'))[2]!.every((circuit) => circuit === 0)).toBe(true)
    expect(await page.textContent('#trends-info')).toMatch(
      /^answered by instance [0-9a-f]{8} · 1 instance\(s\) \(history not shared: no Redis client\) · a point every 0.3 s/,
    )
    // The canvases are drawn, not blank.
    const inked = await page.$eval('#chart-ops canvas', (canvas) => {
      const { data } = (
        canvas as unknown as {
          getContext(kind: '2d'): { getImageData(...box: number[]): { data: Uint8ClampedArray } }
        }
      )
        .getContext('2d')
        .getImageData(0, 0, 600, 170)
      let count = 0
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) count++
      return count
    })
    expect(inked).toBeGreaterThan(500)
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
  })

  it('keeps updating while traffic goes on', async () => {
    const before = (await chartData('chart-ops'))[0]!.at(-1)!
    await traffic(cache, 1000)
    await expect
      .poll(async () => (await chartData('chart-ops'))[0]!.at(-1)!, { timeout: 10_000 })
      .toBeGreaterThan(before)
  })

  it('shows a progress bar per warm-up module while it runs', async () => {
    await page.fill('#warmup-modules', '')
    await page.check('#warmup-force')
    await page.click('#warmup-form button[type=submit]')
    const catalog = page.locator('#warmup-modules-progress li[data-module=catalog]')
    await expect
      .poll(() => catalog.locator('.label').textContent(), { timeout: 5000 })
      .toMatch(/^\d key\(s\)…$/)
    // Running: an indeterminate bar (position -1), while config is already done.
    expect(
      await catalog.locator('progress').evaluate((bar) => (bar as unknown as { position: number }).position),
    ).toBe(-1)
    expect(await page.textContent('#warmup-modules-progress li[data-module=config] .label')).toMatch(
      /^done, 1 key\(s\)/,
    )
    await page
      .locator('#warmup-modules-progress')
      .screenshot({ path: '/tmp/cachet-dashboard-warmup-running.png' })
    await expect
      .poll(() => catalog.locator('.label').textContent(), { timeout: 10_000 })
      .toMatch(/^done, 6 key\(s\) in/)
    expect(
      await catalog.locator('progress').evaluate((bar) => (bar as unknown as { value: number }).value),
    ).toBe(1)
    await expect.poll(() => page.textContent('#warmup-result')).toMatch(/^completed: warmed config, catalog/)
    await page.locator('section', { has: page.locator('#warmup-title') }).screenshot({
      path: '/tmp/cachet-dashboard-warmup.png',
    })
  })

  it('shows the charts to a read-only token too, under the strict CSP, without errors', async () => {
    const other = await browser.newPage()
    await other.goto(`${url}/cache`)
    await other.fill('#token', READ_TOKEN)
    await other.click('#connect')
    await other.waitForSelector('#chart-latency canvas')
    const row = other.locator('#keys tr', { has: other.locator('td.key', { hasText: 'products:1' }) }).first()
    await row.getByRole('button', { name: 'Inspect' }).click()
    await expect
      .poll(() => other.textContent('#inspect-value'))
      .toBe('(value hidden: this token is read-only)')
    expect(await other.textContent('#inspect-meta')).toMatch(/lifetimefresh for/)
    await row.getByRole('button', { name: 'Delete' }).click()
    await expect.poll(() => other.textContent('#message')).toMatch(/^403: .*admin role/)
    await other.screenshot({ path: '/tmp/cachet-dashboard-read-only.png', fullPage: true })
    await other.close()
    // The 403 is the one expected console error (the browser logs failed requests).
    expect(problems.filter((problem) => !/status of 403/.test(problem))).toEqual([])
  })
})
