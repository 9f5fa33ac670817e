import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, startRedis, type TestRedis } from '../../../cachet/test/helpers/redis-server.js'
import type { RunningServer } from '../../src/start.js'
import { ADMIN_TOKEN, startTestServer } from '../start-test-server.js'

const BIN = fileURLToPath(new URL('../../../cachet/bin/cachet.js', import.meta.url))

let redis: TestRedis
let server: RunningServer

beforeAll(async () => {
  redis = await startRedis()
  server = await startTestServer({
    REDIS_URL: redis.url,
    CACHET_DEMO_ROWS: '5000',
    CACHET_DEMO_ORDER_ITEMS: '1000',
  })
  // The start-up warm-up holds the warm-up lock (and health says warming) until it is done.
  await Promise.all(server.resources.warmers.jobs().map((job) => job.done))
  // One cached response to browse.
  await fetch(`${server.url}/api/dashboard`)
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await redis?.stop()
})

/** Runs bin/cachet.js as a user would; resolves its exit code and output. */
function cachet(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, CACHET_URL: server.url, CACHET_ADMIN_TOKEN: ADMIN_TOKEN, ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
      },
    )
  })
}

describe('cachet CLI against a running server', () => {
  it('stats --json prints the admin answer', async () => {
    const { code, stdout } = await cachet(['stats', '--json'])
    expect(code).toBe(0)
    const body = JSON.parse(stdout)
    expect(body.success).toBe(true)
    expect(body.data.cache.misses).toBeGreaterThanOrEqual(1)
  })

  it('top shows the latest sample of the history and its trend', async () => {
    for (let i = 0; i < 5; i++) await fetch(`${server.url}/api/dashboard`)
    // The server samples every 5 s: wait for a frame with a sample.
    let frame = ''
    await expect
      .poll(
        async () => {
          const { code, stdout } = await cachet(['top', '-n', '1'])
          expect(code).toBe(0)
          frame = stdout
          return stdout
        },
        { timeout: 15_000, interval: 1000 },
      )
      .toMatch(/^hit rate:/m)
    expect(frame).toMatch(/^cachet top · instance [0-9a-f]{8} · a point every 5 s · \d+ point\(s\)$/m)
    expect(frame).toMatch(/^ops\/s:\s+hit [\d.]+ · miss [\d.]+ · stale [\d.]+ · error [\d.]+$/m)
    expect(frame).toMatch(/^L2:\s+\d+ error\(s\) · circuit closed$/m)
    expect(frame).not.toContain('\u001b[2J')
  }, 30_000)

  it('top refuses a bad interval with a usage error', async () => {
    const { code, stderr } = await cachet(['top', '--interval', '0'])
    expect(code).toBe(2)
    expect(stderr).toMatch(/must be a number of seconds from 0.1 to 3600/)
  })

  it('stats prints a human summary', async () => {
    const { code, stdout } = await cachet(['stats'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^hit rate:\s+\d+\.\d%$/m)
    expect(stdout).toMatch(/NAMESPACE\s+HITS/)
  })

  it('keys lists the cached dashboard and inspect decodes it', async () => {
    const keys = await cachet(['keys', 'dashboard:*'])
    expect(keys.code).toBe(0)
    const key = /^(dashboard:[0-9a-f]+)\s/m.exec(keys.stdout)?.[1]
    expect(key).toBeDefined()

    const inspect = await cachet(['inspect', key!])
    expect(inspect.code).toBe(0)
    expect(inspect.stdout).toMatch(/^state:\s+fresh$/m)
    // An HTTP entry holds the stored response; its body is the route's JSON as text.
    expect(inspect.stdout).toMatch(/"status": 200/)

    const json = await cachet(['--json', 'inspect', key!])
    expect(JSON.parse(JSON.parse(json.stdout).data.value.body).totalLogs).toBe(5000)
  })

  it('health exits 0 when healthy', async () => {
    const { code, stdout } = await cachet(['health'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/^status:\s+healthy$/m)
  })

  it('clear previews with --dry-run, refuses without --yes off a terminal, deletes with --yes', async () => {
    await fetch(`${server.url}/api/search?q=auth`)
    const preview = await cachet(['clear', 'search:*', '--dry-run'])
    expect(preview.code).toBe(0)
    expect(preview.stdout).toMatch(/^1 key\(s\) match search:\* \(dry run/m)

    const refused = await cachet(['clear', 'search:*'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('without --yes')

    const done = await cachet(['clear', 'search:*', '--yes'])
    expect(done.code).toBe(0)
    expect(done.stdout).toMatch(/deleted 1 key\(s\)/)
  })

  it('invalidate by tag reports the count', async () => {
    const { code, stdout } = await cachet(['invalidate', '--tag', 'config', '--json'])
    expect(code).toBe(0)
    expect(JSON.parse(stdout).details.tags.config).toBeGreaterThanOrEqual(0)
    expect((await cachet(['invalidate'])).code).toBe(2)
  })

  it('invalidate --dry-run counts a tag; --expire soft-purges it', async () => {
    await fetch(`${server.url}/api/dashboard`) // cached under the 'logs' tag
    const countOf = (stdout: string) => Number(/tags logs: (\d+)/.exec(stdout)?.[1])
    await expect
      .poll(async () => countOf((await cachet(['invalidate', '--tag', 'logs', '--dry-run'])).stdout))
      .toBeGreaterThanOrEqual(1)
    const dry = await cachet(['invalidate', '--tag', 'logs', '--dry-run'])
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain(`would invalidate ${countOf(dry.stdout)} key(s)`)
    const soft = await cachet(['invalidate', '--tag', 'logs', '--expire', '--json'])
    expect(soft.code).toBe(0)
    expect(JSON.parse(soft.stdout).details.tags.logs).toBe(countOf(dry.stdout))
  })

  it('warmup runs the named modules and reports them', async () => {
    const { code, stdout } = await cachet(['warmup', 'config', 'users', '--force', '--json'])
    expect(code).toBe(0)
    const state = JSON.parse(stdout)
    expect(state.status).toBe('completed')
    expect(state.modulesWarmed).toEqual(['config', 'users'])
    // config: config:main:all, four config:{key}, two config:environment:{env}; users: users:stats.
    expect(state.keysCreated).toBe(8)
  })

  it('exits 4 with a clear message on a bad token', async () => {
    const { code, stderr } = await cachet(['stats'], { CACHET_ADMIN_TOKEN: 'not-the-admin-token' })
    expect(code).toBe(4)
    expect(stderr).toMatch(/401 .*admin token was refused/)
  })

  it('exits 3 when the server is unreachable', async () => {
    const port = await freePort()
    const { code, stderr } = await cachet(['stats', '--url', `http://127.0.0.1:${port}`])
    expect(code).toBe(3)
    expect(stderr).toMatch(/cannot reach the cachet server .*ECONNREFUSED/)
  })

  it('exits 2 on usage errors', async () => {
    expect((await cachet(['no-such-command'])).code).toBe(2)
    expect((await cachet(['inspect'])).code).toBe(2)
  })
})
