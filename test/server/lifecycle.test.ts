import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/server/config.js'
import { ADMIN_TOKEN, startTestServer } from './start-test-server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// A small table: these tests are about processes, not query cost.
const SMALL = { CACHET_DEMO_ROWS: '5000' }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('config', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({ port: 3000, host: '127.0.0.1', logLevel: 'info' })
    expect(config.redisUrl).toBeUndefined()
    expect(config.adminToken).toBeUndefined()
  })

  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'abc', REDIS_URL: 'localhost:6379', LOG_LEVEL: 'loud' })).toThrow(
      ConfigError,
    )
    try {
      loadConfig({ PORT: '70000', CACHET_ADMIN_TOKEN: 'short' })
    } catch (error) {
      expect((error as Error).message).toMatch(/PORT: PORT must be between 0 and 65535/)
      expect((error as Error).message).toMatch(/CACHET_ADMIN_TOKEN: .*at least 16/)
    }
  })
})

describe('embedded redis-server', () => {
  it('is spawned with the cache settings of seed 004 §9.1 and stopped by a graceful shutdown', async () => {
    const server = await startTestServer(SMALL)
    const { redis } = server.resources
    expect(redis.kind).toBe('embedded')
    if (redis.kind !== 'embedded') return
    expect(alive(redis.process.pid)).toBe(true)
    expect(server.banner).toContain(`embedded redis-server at ${redis.url}`)

    const health = await server.app.inject({ method: 'GET', url: '/api/cache/health' })
    expect(health.json()).toMatchObject({ status: 'healthy', redis: { evictionPolicy: 'allkeys-lru' } })
    expect(health.json().redis.maxMemory).toBe('256.0M')
    expect((await server.app.inject({ method: 'GET', url: '/api/dashboard' })).headers['x-cache']).toBe(
      'MISS',
    )

    await server.stop()
    await redis.process.exited
    expect(alive(redis.process.pid)).toBe(false)
  })

  it('finishes an in-flight request before shutting down', async () => {
    const server = await startTestServer(SMALL)
    // Close as soon as the request has reached the server: its queries are still running then.
    const received = new Promise((resolve) => server.app.server.once('request', resolve))
    const inFlight = fetch(`${server.url}/api/dashboard`)
    await received
    const stopped = server.stop()
    const response = await inFlight
    expect(response.status).toBe(200)
    expect(((await response.json()) as { totalLogs: number }).totalLogs).toBe(5000)
    await stopped
    await expect(fetch(`${server.url}/api/dashboard`)).rejects.toThrow()
  })
})

describe('without redis-server on PATH', () => {
  it('runs L1-only, says so, and still caches', async () => {
    const server = await startTestServer(SMALL, { redisSearchPath: '' })
    try {
      expect(server.resources.redis.kind).toBe('absent')
      expect(server.banner).toMatch(/NONE: running L1-only .*redis-server was not found on PATH/)
      const first = await server.app.inject({ method: 'GET', url: '/api/dashboard' })
      const second = await server.app.inject({ method: 'GET', url: '/api/dashboard' })
      expect(first.headers['x-cache']).toBe('MISS')
      expect(second.headers['x-cache']).toBe('HIT')
      const health = await server.app.inject({ method: 'GET', url: '/api/cache/health' })
      expect(health.statusCode).toBe(200)
      expect(health.json().redis.configured).toBe(false)
    } finally {
      await server.stop()
    }
  })
})

describe('npm start (src/server/main.ts) as a process', () => {
  it('prints the URLs and token, then on SIGTERM exits 0 and stops its redis-server', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        LOG_LEVEL: 'silent',
        CACHET_DEMO_ROWS: '5000',
        CACHET_ADMIN_TOKEN: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk
        if (stdout.includes('Try: curl')) resolve()
      })
      child.once('exit', () => reject(new Error(`server exited early:\n${stdout}`)))
    })
    const url = /Dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\/cache/.exec(stdout)?.[1]
    const token = /Admin token\s+(\S+)\s+\(generated/.exec(stdout)?.[1]
    const redisPid = Number(/\(pid (\d+);/.exec(stdout)?.[1])
    expect(url).toBeDefined()
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(alive(redisPid)).toBe(true)

    const stats = await fetch(`${url}/api/cache/stats`, { headers: { authorization: `Bearer ${token}` } })
    expect(stats.status).toBe(200)

    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    // The child waited for redis-server to exit before exiting itself.
    expect(alive(redisPid)).toBe(false)
  }, 60_000)

  it('refuses a bad PORT with a clear message and exit code 1', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: 'eighty', CACHET_ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(stderr).toContain('PORT: PORT must be a number')
  })
})
