import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminPlugin, createWarmupRegistry } from '../../src/admin/index.js'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

const run = promisify(execFile)
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const TOKEN = 'warmup-tty-admin-token-0123456789'
/** A tmux server of this test only (its own socket), so nothing else's sessions are touched. */
const SOCKET = `cachet-warmup-${process.pid}`
const BAR = /^\[[#-]{30}\] /
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function hasTmux(): Promise<boolean> {
  return run('tmux', ['-V']).then(
    () => true,
    () => false,
  )
}

const tmux = (...args: string[]) => run('tmux', ['-L', SOCKET, ...args])
/** The terminal's screen as a user sees it (no scrollback), trailing blank lines dropped. */
const screen = async () => (await tmux('capture-pane', '-p', '-t', 'warmup')).stdout.trimEnd().split('\n')

describe.skipIf(!(await hasTmux()))('cachet warmup in a real terminal (tmux)', () => {
  let redis: TestRedis
  let cache: CacheApi
  let app: FastifyInstance
  let url: string

  beforeAll(async () => {
    redis = await startRedis()
    cache = createCache({ redis: redis.url, prefix: 'cache', logger: false })
    app = Fastify({ logger: false })
    await app.register(adminPlugin, {
      prefix: '/api/cache',
      cache,
      tokens: [TOKEN],
      warmers: createWarmupRegistry()
        .register('config', async ({ set }) => {
          await set('config:main', { on: true })
          return undefined
        })
        .register('catalog', async ({ cache, progress }) => {
          for (let i = 0; i < 8; i++) {
            await cache.set(`catalog:${i}`, { i })
            progress(1)
            await sleep(400)
          }
          return { keys: 8 }
        }),
    })
    url = await app.listen({ port: 0, host: '127.0.0.1' })
  }, 30_000)

  afterAll(async () => {
    await tmux('kill-server').catch(() => {})
    await app?.close()
    await cache?.close()
    await redis?.stop()
  })

  it('draws the progress bar, redraws it in place while modules run, and exits 0', async () => {
    const command = [
      `CACHET_URL=${url}`,
      `CACHET_ADMIN_TOKEN=${TOKEN}`,
      `'${process.execPath}' --import tsx '${MAIN}' warmup --force`,
      // Keep the pane open after the command, with its exit code on screen.
      '; echo "exit=$?"; sleep 60',
    ].join(' ')
    await tmux('new-session', '-d', '-s', 'warmup', '-x', '120', '-y', '20', command)

    const labels = new Set<string>()
    let last: string[] = []
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      last = await screen()
      const bars = last.filter((line) => BAR.test(line))
      // However many updates were drawn, the terminal shows one bar: each one overwrote the last.
      expect(bars.length).toBeLessThanOrEqual(1)
      if (bars[0]) labels.add(bars[0])
      if (last.some((line) => line.startsWith('exit='))) break
      await sleep(100)
    }
    expect(last).toContain('exit=0')
    expect(last.filter((line) => BAR.test(line))).toEqual([`[${'#'.repeat(30)}] 2/2 done`])
    expect(
      last.some((line) =>
        /^warm-up completed: config, catalog warmed, 9 key\(s\) created, 0 error\(s\)/.test(line),
      ),
    ).toBe(true)
    // The bar was seen moving: catalog's key count while it ran, then its end.
    const running = [...labels].filter((line) => /catalog: \d key\(s\)$/.test(line))
    expect(running.length).toBeGreaterThanOrEqual(2)
    expect(labels.size).toBeGreaterThanOrEqual(3)
  }, 45_000)
})
