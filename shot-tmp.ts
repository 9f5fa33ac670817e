import { chromium } from 'playwright-core'
import { startRedis } from './packages/cachet/test/helpers/redis-server.js'
import { ADMIN_TOKEN, startTestServer } from './packages/server/test/start-test-server.js'
const redis = await startRedis()
const server = await startTestServer({ REDIS_URL: redis.url, CACHET_DEMO_ROWS: '5000', CACHET_DEMO_ORDER_ITEMS: '1000' })
await Promise.all(server.resources.warmers.jobs().map((job) => job.done))
const words = ['error', 'upload', 'billing', 'auth', 'search', 'timeout', 'payment', 'login']
let running = true
const client = async (i: number) => {
  for (let n = i; running; n++) {
    const path = n % 5 === 0 ? `/api/search?q=${words[n % words.length]}${Math.floor(n / 40)}` : n % 2 ? '/api/dashboard' : `/api/search?q=${words[n % words.length]}`
    await fetch(server.url + path).then((r) => r.arrayBuffer()).catch(() => {})
    await new Promise((r) => setTimeout(r, 20))
  }
}
const clients = Array.from({ length: 8 }, (_, i) => client(i))
await new Promise((r) => setTimeout(r, 70_000))
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] })
const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } })
await page.goto(`${server.url}/cache`)
await page.fill('#token', ADMIN_TOKEN)
await page.click('#connect')
await new Promise((r) => setTimeout(r, 6_000))
await page.screenshot({ path: 'packages/cachet/docs/images/dashboard.png', fullPage: false })
running = false
await Promise.all(clients)
await browser.close(); await server.stop(); await redis.stop()
console.log('shot')
