import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { escapeGlob } from '../../src/core/keys.js'
import { Bus, type BusMessage } from '../../src/sync/bus.js'
import { connectRedis, type RedisConnection } from '../../src/tiers/redis/client.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let raw: Redis
const open: Array<{ bus: Bus; connection: RedisConnection }> = []
let unhandled = 0
const onUnhandled = () => {
  unhandled++
}

/** A bus on its own connection, recording what it receives and every gap it reports. */
async function node(prefix = 'bus', options: { maxQueue?: number } = {}) {
  const connection = connectRedis(redis.url, { timeoutMs: 200 })
  const messages: BusMessage[] = []
  const gaps: string[] = []
  const bus = new Bus({
    connection,
    prefix,
    onMessage: (message) => messages.push(message),
    onGap: (reason) => gaps.push(reason),
    intervalMs: 200,
    ...options,
  })
  await bus.start()
  open.push({ bus, connection })
  return { bus, messages, gaps }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function waitFor(check: () => boolean, limitMs = 5_000): Promise<void> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > limitMs) throw new Error('condition not met in time')
    await sleep(20)
  }
}

beforeAll(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
  process.on('unhandledRejection', onUnhandled)
})

afterEach(async () => {
  redis.resume()
  for (const { bus, connection } of open.splice(0)) {
    await bus.close()
    await connection.close()
  }
  expect(unhandled).toBe(0)
})

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled)
  raw.disconnect()
  await redis.stop()
})

describe('Bus', () => {
  it("two buses see each other's messages and not their own", async () => {
    const a = await node()
    const b = await node()
    a.bus.publish({ t: 'del', k: ['bus:x'] })
    b.bus.publish({ t: 'tags', k: ['users'] })
    a.bus.publish({ t: 'pattern', k: ['bus:user:*'] })
    await waitFor(() => b.messages.length === 2 && a.messages.length === 1)
    expect(b.messages).toEqual([
      { t: 'del', k: ['bus:x'] },
      { t: 'pattern', k: ['bus:user:*'] },
    ])
    expect(a.messages).toEqual([{ t: 'tags', k: ['users'] }])
    await sleep(200)
    expect(a.messages).toHaveLength(1)
    expect(a.gaps).toEqual([])
    expect(b.gaps).toEqual([])
  })

  it('another prefix is another channel', async () => {
    const a = await node('one')
    const b = await node('two')
    a.bus.publish({ t: 'clear', k: [] })
    await sleep(300)
    expect(b.messages).toEqual([])
  })

  it('CLIENT KILL TYPE pubsub → onGap, then messages flow again', async () => {
    const a = await node()
    const b = await node()
    expect(await raw.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(2)
    await waitFor(() => a.gaps.length > 0 && b.gaps.length > 0)
    // Both the loss and the re-subscribe are reported.
    await waitFor(() => b.gaps.includes('resubscribed after a disconnect'))
    await waitFor(() => a.gaps.includes('resubscribed after a disconnect'))
    a.bus.publish({ t: 'set', k: ['bus:after'] })
    await waitFor(() => b.messages.some((m) => m.k[0] === 'bus:after'))
  })

  it('malformed messages are ignored; a sequence gap is reported', async () => {
    const b = await node()
    for (const junk of [
      'not json',
      'null',
      '42',
      '{"o":"x","s":1,"t":"nope","k":[]}',
      '{"o":"x","s":"1","t":"del","k":[]}',
      '{"o":"x","s":1,"t":"del","k":[1]}',
      '{"o":"x","s":1,"t":"del"}',
      '{"__proto__":{"polluted":1},"o":"x","s":1,"t":"del","k":"a"}',
    ]) {
      await raw.publish('bus:__bus', junk)
    }
    await raw.publish('bus:__bus', JSON.stringify({ o: 'x', s: 1, t: 'del', k: ['bus:a'] }))
    await raw.publish('bus:__bus', JSON.stringify({ o: 'x', s: 2, t: 'del', k: ['bus:b'] }))
    await raw.publish('bus:__bus', JSON.stringify({ o: 'x', s: 5, t: 'del', k: ['bus:c'] }))
    await waitFor(() => b.messages.length === 3)
    expect(b.messages.map((m) => m.k[0])).toEqual(['bus:a', 'bus:b', 'bus:c'])
    expect(b.gaps).toEqual(['sequence gap from x: 2 then 5'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('a pattern breaking the pattern rules is not applied: counted, reported as a gap (L1 flush)', async () => {
    const b = await node()
    const send = (s: number, k: string[]) =>
      raw.publish('bus:__bus', JSON.stringify({ o: 'peer', s, t: 'pattern', k }))
    await send(1, ['bus:users:*'])
    await send(2, [`bus:${'*a'.repeat(40)}!`]) // 40 wildcards
    await send(3, ['other:users:*']) // outside the prefix
    await send(4, ['bus:\u001b[2Jusers:*'])
    await send(5, ['bus:users:*', 'bus:users:[ab']) // one bad pattern drops the whole message
    const namespaced = `bus:${escapeGlob('n*'.repeat(300))}:x*` // a long namespace, escaped, is fine
    await send(6, [namespaced])
    await waitFor(() => b.messages.length === 2 && b.gaps.length === 4)
    expect(b.messages).toEqual([
      { t: 'pattern', k: ['bus:users:*'] },
      { t: 'pattern', k: [namespaced] },
    ])
    expect(b.bus.rejected).toBe(4)
    for (const gap of b.gaps) expect(gap).toMatch(/^invalid pattern from peer: /)
  })

  it('a short freeze is reported through missed PINGs; messages flow after SIGCONT', async () => {
    const a = await node()
    const b = await node()
    redis.pause()
    await waitFor(() => b.gaps.length > 0, 5_000)
    expect(b.gaps[0]).toMatch(/PINGs/)
    redis.resume()
    a.bus.publish({ t: 'del', k: ['bus:thawed'] })
    await waitFor(() => b.messages.some((m) => m.k[0] === 'bus:thawed'), 5_000)
  })

  it('a long freeze drops the subscriber socket; it re-subscribes after SIGCONT and reports it', async () => {
    const a = await node()
    const b = await node()
    redis.pause()
    // Longer than the socket timeout (1 s): the frozen socket is destroyed and reconnects start.
    await waitFor(() => b.gaps.includes('subscriber connection lost'), 5_000)
    redis.resume()
    await waitFor(() => b.gaps.includes('resubscribed after a disconnect'), 10_000)
    a.bus.publish({ t: 'del', k: ['bus:back'] })
    await waitFor(() => b.messages.some((m) => m.k[0] === 'bus:back'), 5_000)
  })

  it('merges a burst of messages of one event-loop turn into one publish', async () => {
    const a = await node('burst')
    const b = await node('burst')
    for (let i = 0; i < 100; i++) a.bus.publish({ t: 'set', k: [`burst:${i}`] })
    await waitFor(() => b.messages.length > 0, 3_000)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(b.messages).toHaveLength(1)
    expect(b.messages[0]!.k).toHaveLength(100)
  })

  it('failed publishes are retried; on overflow one clear replaces the backlog', async () => {
    const a = await node('ovf', { maxQueue: 5 })
    const b = await node('ovf')
    // PUBLISH blocks during a write pause: each one times out on the publisher and is queued.
    await raw.client('PAUSE', 3_000, 'WRITE') // well past the 1 s publish deadline, even on a loaded machine
    // Alternating types, so the burst is not merged into one message.
    for (let i = 0; i < 8; i++) a.bus.publish({ t: i % 2 === 0 ? 'del' : 'set', k: [`ovf:${i}`] })
    await waitFor(() => a.bus.pending > 0, 3_000)
    expect(a.bus.pending).toBeLessThanOrEqual(5)
    await waitFor(() => b.messages.some((m) => m.t === 'clear'), 10_000)
    await waitFor(() => a.bus.pending === 0, 5_000)
  })
})
