import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})

const worker = fileURLToPath(new URL('./fixtures/stampede-worker.ts', import.meta.url))

function startWorker(prefix: string, calls: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, redis.url, prefix, String(calls)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  let output = ''
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk) => {
      output += chunk
      if (output.includes('ready')) resolve()
    })
  })
  const result = new Promise<{ failed: number; distinct: number }>((resolve, reject) => {
    child.on('exit', () => {
      const line = output.split('\n').find((l) => l.startsWith('{'))
      if (line) resolve(JSON.parse(line))
      else reject(new Error(`worker exited without a result: ${output}`))
    })
  })
  return { child, ready, result }
}

describe('stampede protection', () => {
  it('1,000 concurrent getOrSet on one cold key across 4 processes call the loader once', async () => {
    const prefix = 'stampede'
    const workers = Array.from({ length: 4 }, () => startWorker(prefix, 250))
    await Promise.all(workers.map((w) => w.ready))
    for (const w of workers) w.child.stdin.write('go\n')
    const results = await Promise.all(workers.map((w) => w.result))
    const raw = new Redis(redis.url)
    const loaderCalls = Number(await raw.get(`${prefix}-loader-calls`))
    raw.disconnect()
    expect(results.map((r) => r.failed)).toEqual([0, 0, 0, 0])
    expect(results.map((r) => r.distinct)).toEqual([1, 1, 1, 1])
    expect(loaderCalls).toBe(1)
  }, 60_000)

  it('coalesces concurrent callers in one process even with L2 off (single-flight)', async () => {
    const cache = createCache({ logger: false })
    let calls = 0
    const loader = async () => {
      calls++
      await new Promise((resolve) => setTimeout(resolve, 50))
      return 'v'
    }
    const values = await Promise.all(Array.from({ length: 1000 }, () => cache.getOrSet('k', loader)))
    expect(calls).toBe(1)
    expect(new Set(values)).toEqual(new Set(['v']))
    await cache.close()
  })
})
