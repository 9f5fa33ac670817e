import { existsSync } from 'node:fs'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, type TestRedis } from '../../../cachet/test/helpers/redis-server.js'
import type { RunningServer } from '../../src/start.js'
import { ADMIN_TOKEN, startTestServer } from '../start-test-server.js'

const CHROMIUM = '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM)
if (!hasChromium) {
  console.warn(
    `dashboard browser test skipped: ${CHROMIUM} is absent (npm test installs it with apt as root)`,
  )
}

// Key names are attacker-influenced (RELIABILITY S14): each would run script if rendered as HTML.
const HOSTILE_KEYS = [
  '<img src=x onerror=window.__xss=1>',
  '"><img src=x onerror=window.__xss=2>',
  'u:\u202Egnp.exe',
]
const HOSTILE_VALUE = { html: '<script>window.__xss=3</script><img src=x onerror=window.__xss=4>' }

describe.skipIf(!hasChromium)('dashboard page in headless Chromium', () => {
  let redis: TestRedis
  let server: RunningServer
  let browser: Browser
  let page: Page
  const problems: string[] = []

  beforeAll(async () => {
    redis = await startRedis()
    server = await startTestServer({
      REDIS_URL: redis.url,
      CACHET_DEMO_ROWS: '5000',
      CACHET_DEMO_ORDER_ITEMS: '1000',
    })
    // The start-up warm-up holds the warm-up lock (and health says warming) until it is done.
    await Promise.all(server.resources.warmers.jobs().map((job) => job.done))
    for (const key of HOSTILE_KEYS)
      await server.resources.cache.set(key, HOSTILE_VALUE, { tags: ['hostile'] })
    await fetch(`${server.url}/api/dashboard`)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    page = await browser.newPage()
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`)
    })
    await page.goto(`${server.url}/cache`)
    await page.fill('#token', ADMIN_TOKEN)
    await page.click('#connect')
  }, 90_000)

  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await redis?.stop()
  })

  it('shows the health indicator and live stats', async () => {
    // The badge refreshes every few seconds; a first PING on a busy start-up can read degraded.
    await expect.poll(() => page.textContent('#health'), { timeout: 15_000 }).toBe('health: healthy')
    await page.waitForSelector('#stats .card')
    const labels = await page.$$eval('#stats .label', (nodes) => nodes.map((n) => n.textContent))
    expect(labels).toEqual(
      expect.arrayContaining(['hit rate', 'hits', 'misses', 'memory', 'keys', 'loader avg']),
    )
    expect(await page.textContent('#stats')).toMatch(/misses\s*1/)
  })

  it('lists keys, rendering hostile key names as text without running them', async () => {
    for (const key of HOSTILE_KEYS) {
      await page.locator('#keys td.key', { hasText: key }).waitFor()
    }
    await page.locator('#keys td.key', { hasText: /^dashboard:/ }).waitFor()
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined()
    expect(await page.$$('#keys img, #keys script')).toHaveLength(0)
  })

  it('inspects a value as text', async () => {
    const row = page.locator('#keys tr', { has: page.locator('td.key', { hasText: HOSTILE_KEYS[0]! }) })
    await row.getByRole('button', { name: 'Inspect' }).click()
    await expect.poll(() => page.textContent('#inspect-value')).toContain('<script>window.__xss=3</script>')
    expect(await page.textContent('#inspect-key')).toBe(HOSTILE_KEYS[0])
    expect(await page.textContent('#inspect-meta')).toContain('hostile')
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined()
  })

  it('shows how long a key stays fresh, then how long it is served stale', async () => {
    const row = page.locator('#keys tr', { has: page.locator('td.key', { hasText: /^dashboard:/ }) })
    // The dashboard type is fresh for 5 minutes and kept 1 h more as a stale fallback.
    expect(await row.locator('td.lifetime').textContent()).toMatch(
      /^fresh for [3-5]m \d{1,2}s · stale until 1h [0-5]m$/,
    )
    await page.screenshot({ path: '/tmp/cachet-dashboard-lifetime.png' })
  })

  it('shows an invalidated key as a tombstone', async () => {
    const row = page.locator('#keys tr', { has: page.locator('td.key', { hasText: HOSTILE_KEYS[2]! }) })
    await server.resources.cache.delete(HOSTILE_KEYS[2]!)
    await row.getByRole('button', { name: 'Inspect' }).click()
    await expect
      .poll(() => page.textContent('#inspect-meta'))
      .toMatch(/lifetimetombstone \(invalidated\) · refuses late writes for (\d+m )?\d+s/)
  })

  it('previews a clear with a dry-run count, then clears after confirmation', async () => {
    await page.fill('#clear-pattern', 'config:*')
    await page.click('#clear-form button[type=submit]')
    await expect.poll(() => page.textContent('#clear-count')).toBe('7 key(s) match config:*')
    expect(await server.resources.cache.has('config:features')).toBe(true)
    await page.click('#clear-confirm')
    await expect.poll(() => page.textContent('#message')).toMatch(/Cleared 7 key\(s\) for config:\*/)
    expect(await server.resources.cache.has('config:features')).toBe(false)
  })

  it('runs a warm-up and shows its result', async () => {
    await page.fill('#warmup-modules', 'config, users')
    await page.click('#warmup-form button[type=submit]')
    await expect
      .poll(() => page.textContent('#warmup-result'), { timeout: 15_000 })
      .toMatch(/^completed: warmed config, users, 8 key\(s\) created, 0 error\(s\)/)
    expect(await server.resources.cache.has('config:features')).toBe(true)
  })

  it('deletes a key from the browser', async () => {
    const row = page.locator('#keys tr', { has: page.locator('td.key', { hasText: HOSTILE_KEYS[1]! }) })
    await row.getByRole('button', { name: 'Delete' }).click()
    await expect.poll(() => server.resources.cache.has(HOSTILE_KEYS[1]!)).toBe(false)
  })

  it('lists the audit trail and filters it by outcome, action and caller', async () => {
    await page.click('#audit-form button[type=submit]')
    await page.locator('#audit tbody tr').first().waitFor()
    const actions = await page.$$eval('#audit tbody tr td:nth-child(4)', (cells) =>
      cells.map((c) => c.textContent),
    )
    expect(actions).toEqual(expect.arrayContaining(['clear', 'warmup', 'read']))

    await page.selectOption('#audit-outcome', 'dry-run')
    await page.click('#audit-form button[type=submit]')
    await expect
      .poll(() =>
        page.$$eval('#audit tbody td.outcome', (cells) => [...new Set(cells.map((c) => c.textContent))]),
      )
      .toEqual(['dry-run'])

    await page.selectOption('#audit-outcome', '')
    await page.fill('#audit-action', 'clear')
    await page.click('#audit-form button[type=submit]')
    await expect
      .poll(() => page.$$eval('#audit tbody tr', (rows) => rows.map((r) => r.children[3]!.textContent)))
      .toEqual(['clear', 'clear'])
    expect(await page.textContent('#audit tbody tr:first-child td.details')).toContain('config:*')

    // A caller's name filters the trail to that caller.
    await page.fill('#audit-action', '')
    await page.locator('#audit tbody td.who button').first().click()
    await expect.poll(() => page.inputValue('#audit-who')).toMatch(/^token:[0-9a-f]{8}$/)
    const who = await page.inputValue('#audit-who')
    const callers = await page.$$eval('#audit tbody td.who', (cells) => [
      ...new Set(cells.map((c) => c.textContent)),
    ])
    expect(callers).toEqual([who])
    // The key with a right-to-left override is shown escaped, so it cannot reorder the line.
    expect(await page.textContent('#audit')).toContain('u:\\u202egnp.exe')
    await page.locator('#audit').screenshot({ path: '/tmp/cachet-dashboard-audit.png' })
    await page.fill('#audit-who', '')
  })

  it('runs under its CSP without errors, and never executed injected script', async () => {
    expect(problems).toEqual([])
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined()
  })

  it('reports a wrong token instead of failing silently', async () => {
    const other = await browser.newPage()
    await other.goto(`${server.url}/cache`)
    await other.fill('#token', 'wrong-token-000000000')
    await other.click('#connect')
    await expect.poll(() => other.textContent('#message')).toMatch(/Not authorised \(401\)/)
    await other.close()
  })
})
