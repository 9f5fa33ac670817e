import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type ChaosProxy, startChaosProxy } from '../../src/testing/index.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let proxy: ChaosProxy
let client: Redis

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** How long a promise takes to settle, and how. */
async function timed(promise: Promise<unknown>): Promise<{ ms: number; ok: boolean; error?: Error }> {
  const started = performance.now()
  try {
    await promise
    return { ms: performance.now() - started, ok: true }
  } catch (error) {
    return { ms: performance.now() - started, ok: false, error: error as Error }
  }
}

beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
})
beforeEach(async () => {
  proxy = await startChaosProxy({ target: { port: redis.port } })
  // Short command deadline, quick reconnects: what a service using the proxy would see.
  client = new Redis(proxy.url, { commandTimeout: 300, maxRetriesPerRequest: 0, retryStrategy: () => 50 })
  client.on('error', () => {}) // resets and timeouts are what these tests cause
  await client.ping()
})
afterEach(async () => {
  client.disconnect()
  await proxy.close()
})

describe('chaos proxy', () => {
  it('forwards commands both ways untouched', async () => {
    await client.set('p:a', 'é'.repeat(100_000))
    expect(await client.get('p:a')).toBe('é'.repeat(100_000))
    expect(proxy.connections).toBe(1)
  })

  it('latency delays every round trip by about twice the one-way delay, in order', async () => {
    proxy.latency(100)
    const { ms } = await timed(client.get('p:a'))
    // 100 ms each way; the upper bound only tells "delayed" from "stuck" on a loaded machine.
    expect(ms).toBeGreaterThanOrEqual(195)
    expect(ms).toBeLessThan(2_000)
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => client.echo(String(i))))
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
    proxy.latency(0)
    // The fastest of five: one round trip slowed by a starved machine cannot fail it, while a delay
    // still in place adds 200 ms to every one.
    const pings: number[] = []
    for (let i = 0; i < 5; i++) pings.push((await timed(client.ping())).ms)
    expect(Math.min(...pings)).toBeLessThan(150)
  })

  it('freeze holds requests (they time out) and thaw delivers what was held', async () => {
    proxy.freeze()
    const held = await timed(client.set('p:frozen', 'landed'))
    expect(held.ok).toBe(false)
    expect(held.error?.message).toMatch(/timed out/i)
    const direct = new Redis(redis.url)
    expect(await direct.get('p:frozen')).toBeNull()
    proxy.thaw()
    // The SET timed out for the client, yet it was in flight: it lands once the link thaws.
    await expect.poll(() => direct.get('p:frozen'), { timeout: 3_000 }).toBe('landed')
    direct.disconnect()
  })

  it('drop loses requests; lifting it resets the connections that lost bytes, and the client reconnects', async () => {
    proxy.drop()
    const lost = await timed(client.set('p:dropped', 'x'))
    expect(lost.ok).toBe(false)
    const direct = new Redis(redis.url)
    expect(await direct.exists('p:dropped')).toBe(0)
    direct.disconnect()
    proxy.drop(false)
    await expect.poll(async () => (await timed(client.ping())).ok, { timeout: 5_000 }).toBe(true)
    expect(await client.get('p:dropped')).toBeNull()
  })

  it('cut resets open connections; refuse keeps new ones out until healed', async () => {
    let closes = 0
    client.on('close', () => closes++)
    proxy.refuse()
    proxy.cut()
    await expect.poll(() => closes, { timeout: 2_000 }).toBeGreaterThan(0)
    expect((await timed(client.ping())).ok).toBe(false)
    await sleep(200) // several refused reconnects
    expect(proxy.connections).toBe(0)
    proxy.heal()
    await expect.poll(async () => (await timed(client.ping())).ok, { timeout: 5_000 }).toBe(true)
    expect(proxy.connections).toBe(1)
  })

  it('refuses a negative latency', () => {
    expect(() => proxy.latency(-1)).toThrow(RangeError)
  })
})
