import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

/** A pino logger writing JSON lines into an array. */
function capturingLogger() {
  const lines: { level: number; msg: string; err?: { stack?: string } }[] = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) })
  return { logger, lines }
}

describe('Redis connection logging', () => {
  it('says once that Redis is down (no stack), not once per reconnect attempt, and once that it is back', async () => {
    const { logger, lines } = capturingLogger()
    const cache = createCache({ redis: redis.url, prefix: 'log', logger })
    await cache.set('k', 1)
    await redis.kill()
    const connectionLines = () =>
      lines.filter((line) => line.msg.startsWith('cachet: redis') && !line.msg.includes('circuit'))
    // ioredis retries every few hundred ms: many failed attempts on each connection in this time.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const early = connectionLines().length
    await new Promise((resolve) => setTimeout(resolve, 2500))
    const late = connectionLines()
    expect(early).toBeGreaterThanOrEqual(1)
    expect(late.length).toBe(early) // the reconnect attempts since added nothing
    expect(late.length).toBeLessThanOrEqual(4) // one per distinct error of the data and bus connections
    expect(late.every((line) => line.err === undefined)).toBe(true)

    await redis.restart()
    await expect
      .poll(() => lines.some((line) => line.msg === 'cachet: redis ready again'), { timeout: 10_000 })
      .toBe(true)
    await cache.close()
  }, 30_000)
})
