import { existsSync } from 'node:fs'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dashboardPlugin } from '../../src/admin/dashboard/plugin.js'
import { adminPlugin, type WriteBehindSource } from '../../src/admin/index.js'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { createWriteBehind, type WriteBehind } from '../../src/write/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

const CHROMIUM = '/usr/bin/chromium'
const TOKEN = 'write-behind-admin-token-0123456789'
const SCREENSHOT = '/tmp/cachet-dashboard-write-behind.png'
const DURABLE = ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']

async function dashboard(cache: CacheApi, writeBehind?: WriteBehindSource) {
  const app = Fastify({ logger: false })
  await app.register(adminPlugin, {
    prefix: '/api/cache',
    cache,
    tokens: [TOKEN],
    ...(writeBehind ? { writeBehind: { 'product views': writeBehind } } : {}),
  })
  await app.register(dashboardPlugin, { prefix: '/cache', apiPrefix: '/api/cache' })
  return { app, url: await app.listen({ port: 0, host: '127.0.0.1' }) }
}

describe.skipIf(!existsSync(CHROMIUM))('dashboard write-behind card in headless Chromium', () => {
  let cacheRedis: TestRedis
  let journalRedis: TestRedis
  let journal: Redis
  let cache: CacheApi
  let writeBehind: WriteBehind<{ views: number; lastSeen: string }>
  let withWb: { app: FastifyInstance; url: string }
  let without: { app: FastifyInstance; url: string }
  let browser: Browser
  let release: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const problems: string[] = []

  beforeAll(async () => {
    ;[cacheRedis, journalRedis] = await Promise.all([startRedis(), startRedis(DURABLE)])
    cache = createCache({ redis: cacheRedis.url, prefix: 'cache', logger: false, l2: RELAXED_L2 })
    journal = new Redis(journalRedis.url)
    writeBehind = await createWriteBehind<{ views: number; lastSeen: string }>({
      cache,
      journal,
      stream: 'dashboard:product-views',
      interval: '50ms',
      merge: (a, b) => ({ views: a.views + b.views, lastSeen: b.lastSeen }),
      // The database is "down" until the test releases it: the backlog stays in the journal.
      flush: async () => {
        await gate
      },
    })
    withWb = await dashboard(cache, writeBehind)
    without = await dashboard(cache)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
    })
  }, 60_000)

  afterAll(async () => {
    release()
    await browser?.close()
    await writeBehind?.stop()
    await withWb?.app.close()
    await without?.app.close()
    await cache?.close()
    journal?.disconnect()
    await Promise.all([cacheRedis?.stop(), journalRedis?.stop()])
  })

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    await page.goto(`${url}/cache`)
    await page.fill('#token', TOKEN)
    await page.click('#connect')
    await page.waitForSelector('#stats .card')
    return page
  }

  const figure = (page: Page, name: string) =>
    page.textContent(`#write-behind [data-name="product views"] [data-figure="${name}"] .value`)

  it('shows the backlog while the database is down, then the flushed count, refreshing by itself', async () => {
    for (let i = 0; i < 120; i++) {
      await writeBehind.write(`product-views:${i % 12}`, { views: 1, lastSeen: new Date().toISOString() })
    }
    const page = await open(withWb.url)
    await page.waitForSelector('#write-behind-section:not([hidden]) [data-name="product views"]')
    expect(await figure(page, 'backlog')).toBe('120')
    expect(await figure(page, 'flushed')).toBe('0')
    expect(await figure(page, 'journal')).toBe('AOF · fsync everysec · noeviction')
    expect(await figure(page, 'backlogAge')).toMatch(/^\d+(\.\d)? (ms|s)$/)
    expect(await page.textContent('#write-behind [data-name="product views"] .badge')).toBe('healthy')
    await page
      .locator('#write-behind-section')
      .screenshot({ path: '/tmp/cachet-dashboard-write-behind-backlog.png' })

    release()
    // No reload: the page's 5 s refresh brings the new figures.
    await expect.poll(() => figure(page, 'flushed'), { timeout: 12_000 }).toBe('120')
    expect(await figure(page, 'backlog')).toBe('0')
    expect(await figure(page, 'failures')).toBe('0')
    expect(await figure(page, 'deadLettered')).toBe('0')
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    await page.close()
  }, 30_000)

  it('hides the section when the admin API has no write-behind', async () => {
    const page = await open(without.url)
    // The stats arrived, so the write-behind list did too.
    await page.waitForTimeout(300)
    expect(await page.isHidden('#write-behind-section')).toBe(true)
    expect(await page.locator('#write-behind > *').count()).toBe(0)
    await page.close()
    expect(problems).toEqual([])
  })
})
