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
    // ioredis retries every few hundred ms: several failed attempts during this wait.
    await new Promise((resolve) => setTimeout(resolve, 2500))
    const whileDown = lines.filter((line) => line.msg.startsWith('cachet: redis'))
    expect(whileDown.length).toBeGreaterThanOrEqual(1)
    expect(whileDown.length).toBeLessThanOrEqual(2) // the close, then the first refused reconnect
    expect(whileDown.every((line) => line.err === undefined)).toBe(true)

    await redis.restart()
    await expect
      .poll(() => lines.some((line) => line.msg === 'cachet: redis ready again'), { timeout: 10_000 })
      .toBe(true)
    await cache.close()
  }, 30_000)
})
