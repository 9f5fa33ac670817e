import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.js'
import { ADMIN_HEADERS, ADMIN_TOKEN, startTestServer } from './start-test-server.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
// Small tables: these tests are about processes, not query cost.
const SMALL = { CACHET_DEMO_ROWS: '5000', CACHET_DEMO_ORDER_ITEMS: '1000' }

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
    const { redis, durableRedis } = server.resources
    expect(redis.kind).toBe('embedded')
    expect(durableRedis.kind).toBe('embedded')
    if (redis.kind !== 'embedded' || durableRedis.kind !== 'embedded') return
    expect(alive(redis.process.pid)).toBe(true)
    expect(alive(durableRedis.process.pid)).toBe(true)
    expect(server.banner).toContain(`embedded redis-server at ${redis.url}`)

    const health = await server.app.inject({ method: 'GET', url: '/api/cache/health' })
    // Degraded only means a PING took over 100 ms, which a busy shared machine can cause; warming,
    // that the start-up warm-up is still running.
    expect(['healthy', 'warming', 'degraded']).toContain(health.json().status)
    expect(health.json()).toMatchObject({ redis: { evictionPolicy: 'allkeys-lru' } })
    expect(health.json().redis.maxMemory).toBe('256.0M')
    expect((await server.app.inject({ method: 'GET', url: '/api/dashboard' })).headers['x-cache']).toBe(
      'MISS',
    )

    await server.stop()
    await Promise.all([redis.process.exited, durableRedis.process.exited])
    expect(alive(redis.process.pid)).toBe(false)
    expect(alive(durableRedis.process.pid)).toBe(false)
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

  it('serves the user routes straight from the database, and says so', async () => {
    const server = await startTestServer(SMALL, { redisSearchPath: '' })
    try {
      expect(server.resources.userSync).toBeUndefined()
      expect(server.banner).toMatch(
        /Users +NO entity cache and NO stream consumer .*straight from the database/,
      )
      const get = (url: string) => server.app.inject({ method: 'GET', url })
      const user = await get('/api/users/7')
      expect(user.statusCode).toBe(200)
      expect(user.headers['x-cache']).toBe('BYPASS')
      expect(user.json()).toMatchObject({ id: '7', matricule: 'MAT00007' })
      const batch = await get('/api/users/batch?ids=3,999999,1')
      expect(batch.json().users.map((u: { id: string }) => u.id)).toEqual(['3', '1'])
      expect(batch.json().missing).toEqual(['999999'])
      expect((await get('/api/users/999999')).statusCode).toBe(404)
      const put = await server.app.inject({
        method: 'PUT',
        url: '/api/users/7',
        payload: { fullName: 'Only In The Database' },
        headers: ADMIN_HEADERS,
      })
      expect(put.statusCode).toBe(200)
      expect(put.json().event).toBeNull()
      expect((await get('/api/users/7')).json().fullName).toBe('Only In The Database')
      // The SQL cache runs on the in-process L1 here.
      expect((await get('/api/dashboard/revenue')).headers['x-cache']).toBe('MISS')
      expect((await get('/api/dashboard/revenue')).headers['x-cache']).toBe('HIT')
    } finally {
      await server.stop()
    }
  })
})

describe('npm start (src/main.ts) as a process', () => {
  it('prints the URLs and token, then on SIGTERM exits 0 and stops its redis-server', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        LOG_LEVEL: 'silent',
        ...SMALL,
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
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
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
