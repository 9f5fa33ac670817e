import type { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type ChaosProxy, startChaosProxy } from '../../../src/testing/index.js'
import { connectRedis, type RedisConnection, type RedisEvent } from '../../../src/tiers/redis/client.js'
import { startRedis, type TestRedis } from '../../helpers/redis-server.js'

/** A 200 ms deadline: a connection awaiting replies is dropped after 2 s without a byte (1 s + 4 × 200 ms, at least 2 s). */
const TIMEOUT_MS = 200
const STALL_MS = 2_000

let redis: TestRedis
let proxy: ChaosProxy
let connection: RedisConnection | undefined

beforeAll(async () => {
  redis = await startRedis()
  proxy = await startChaosProxy({ target: { port: redis.port } })
})

afterEach(async () => {
  proxy.heal()
  await connection?.close()
  connection = undefined
})

afterAll(async () => {
  await proxy.close()
  await redis.stop()
})

/** A connection cachet owns, through the proxy, and the times (ms since `started`) its socket closed. */
async function connect(): Promise<{ client: Redis; closes: number[]; started: number }> {
  const closes: number[] = []
  const started = performance.now()
  connection = connectRedis(proxy.url, {
    timeoutMs: TIMEOUT_MS,
    onEvent: (state: RedisEvent) => {
      if (state === 'close') closes.push(performance.now() - started)
    },
  })
  const client = connection.client as Redis
  await client.ping()
  return { client, closes, started }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

describe('a connection awaiting replies that receives nothing', () => {
  it('is dropped about the stall timeout after it was sent (checked every eighth of it), then reconnects', async () => {
    const { client, closes } = await connect()
    proxy.freeze()
    const sentAt = performance.now()
    // Not awaited: ioredis settles a command lost with its socket only if a reconnect fails (the
    // engine's guard bounds every call it makes at its deadline).
    void client.get('stall:a').catch(() => {})
    while (closes.length === 0 && performance.now() - sentAt < 3 * STALL_MS) await sleep(50)
    const droppedAfter = performance.now() - sentAt
    expect(closes.length).toBe(1)
    expect(droppedAfter).toBeGreaterThanOrEqual(0.875 * STALL_MS)
    expect(droppedAfter).toBeLessThan(1.125 * STALL_MS + 500)
    proxy.thaw()
    for (let i = 0; i < 100 && client.status !== 'ready'; i++) await sleep(50)
    expect(await client.get('stall:a')).toBeNull()
  })

  it('is kept while idle: no command awaits a reply, nothing is expected', async () => {
    const { client, closes } = await connect()
    proxy.freeze()
    await sleep(STALL_MS * 1.5)
    expect(closes).toEqual([])
    proxy.thaw()
    expect(await client.ping()).toBe('PONG')
  })
})

describe('a process that blocks its event loop', () => {
  it('keeps the connection: the reply was there, unread, and the late check blames nothing', async () => {
    const { client, closes } = await connect()
    const reply = client.get('stall:b')
    // A long synchronous task right after sending: the reply arrives meanwhile and waits in the socket.
    const blockedUntil = performance.now() + STALL_MS * 1.5
    while (performance.now() < blockedUntil) {
      // busy
    }
    expect(await reply).toBeNull()
    await sleep(STALL_MS / 2)
    expect(closes).toEqual([])
    expect(client.status).toBe('ready')
  })
})
