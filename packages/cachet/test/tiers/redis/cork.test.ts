import type { Socket } from 'node:net'
import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectRedis, type RedisConnection } from '../../../src/tiers/redis/client.js'
import { startRedis, type TestRedis } from '../../helpers/redis-server.js'

let redis: TestRedis
let connection: RedisConnection
let client: Redis

/** Counts the socket writes (system calls) the client makes while `work` runs. */
async function countWrites(work: () => Promise<unknown>): Promise<number> {
  const socket = client.stream as Socket & {
    _write: (...args: unknown[]) => void
    _writev: (...args: unknown[]) => void
  }
  const write = socket._write
  const writev = socket._writev
  let writes = 0
  socket._write = function (...args: unknown[]) {
    writes++
    return write.apply(this, args)
  }
  socket._writev = function (...args: unknown[]) {
    writes++
    return writev.apply(this, args)
  }
  try {
    await work()
  } finally {
    socket._write = write
    socket._writev = writev
  }
  return writes
}

beforeAll(async () => {
  redis = await startRedis()
  connection = connectRedis(redis.url, { timeoutMs: 2_000, corkPerTick: true })
  client = connection.client as Redis
  await client.ping()
})

afterAll(async () => {
  await connection.close()
  await redis.stop()
})

describe('commands of one tick share socket writes', () => {
  it('sends 64 commands issued while others await replies in a few writes, in the order issued', async () => {
    const key = 'cork:order'
    const writes = await countWrites(async () => {
      // The first command leaves alone; the 63 issued while it awaits its reply are held together.
      const pushes = Array.from({ length: 64 }, (_, i) => client.rpush(key, String(i)))
      await Promise.all(pushes)
    })
    expect(await client.lrange(key, 0, -1)).toEqual(Array.from({ length: 64 }, (_, i) => String(i)))
    // 1 for the lone first command, then at most 16 commands a write: 4 more (63 = 16 + 16 + 16 + 15).
    expect(writes).toBe(5)
  })

  it('writes a lone command at once, without holding it to the end of the tick', async () => {
    await client.ping()
    const socket = client.stream as Socket
    const reply = client.get('cork:absent')
    // Nothing awaited a reply when it was sent: the socket is not corked, the bytes have left.
    expect(socket.writableCorked).toBe(0)
    expect(socket.writableLength).toBe(0)
    await expect(reply).resolves.toBeNull()
  })

  it('lets held commands leave by the end of the tick that issued them', async () => {
    await client.ping()
    const first = client.set('cork:tick', 'a')
    const second = client.get('cork:tick')
    const socket = client.stream as Socket
    expect(socket.writableCorked).toBe(1)
    await new Promise<void>((resolve) => process.nextTick(resolve))
    expect(socket.writableCorked).toBe(0)
    await expect(first).resolves.toBe('OK')
    await expect(second).resolves.toBe('a')
  })
})
