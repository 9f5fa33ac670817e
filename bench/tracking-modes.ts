/**
 * Redis tracking, default mode vs BCAST PREFIX: what each costs the server (INFO tracking figures,
 * memory, CPU) and what it tells the client, with 3 tracking clients as 3 cache instances would be.
 *
 *   node --import tsx bench/tracking-modes.ts
 *
 * Default mode remembers, per key, every client that read it; BCAST remembers only prefixes and
 * tells every subscribed client about every write under them.
 */
import { Redis } from 'ioredis'
import { startRedis } from '../packages/cachet/test/helpers/redis-server.js'

const CLIENTS = 3
const KEYS = 100_000
const BATCH = 1_000
const CHANNEL = '__redis__:invalidate'

type Mode = 'default' | 'bcast'

async function info(redis: Redis): Promise<Record<string, number>> {
  const text = await redis.info()
  const out: Record<string, number> = {}
  for (const line of text.split('\r\n')) {
    const [name, value] = line.split(':')
    if (name && value !== undefined && /^[\d.]+$/.test(value)) out[name] = Number(value)
  }
  return out
}

const cpu = (figures: Record<string, number>) => figures.used_cpu_user! + figures.used_cpu_sys!

async function measure(mode: Mode): Promise<void> {
  const server = await startRedis()
  const admin = new Redis(server.port)
  const writer = new Redis(server.port)
  // The data: KEYS keys under the prefix, written before anyone tracks.
  for (let i = 0; i < KEYS; i += BATCH) {
    const pipeline = writer.pipeline()
    for (let j = i; j < i + BATCH; j++) pipeline.set(`m:${j}`, 'x'.repeat(100))
    await pipeline.exec()
  }
  const received: number[] = []
  const clients: Array<{ data: Redis; subscriber: Redis }> = []
  for (let c = 0; c < CLIENTS; c++) {
    const data = new Redis(server.port)
    const subscriber = new Redis(server.port)
    const id = await subscriber.client('ID')
    received.push(0)
    subscriber.on('messageBuffer', (_channel: Buffer, keys: Buffer[] | null) => {
      received[c]! += keys ? keys.length : 0
    })
    await subscriber.subscribe(CHANNEL)
    const bcast = mode === 'bcast' ? ['BCAST', 'PREFIX', 'm:'] : []
    await data.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), ...bcast, 'NOLOOP')
    clients.push({ data, subscriber })
  }
  const before = await info(admin)
  // Every client reads every key once (as 3 instances warming their L1 would).
  const readStarted = performance.now()
  for (const { data } of clients) {
    for (let i = 0; i < KEYS; i += BATCH) {
      const pipeline = data.pipeline()
      for (let j = i; j < i + BATCH; j++) pipeline.get(`m:${j}`)
      await pipeline.exec()
    }
  }
  const readMs = performance.now() - readStarted
  const afterReads = await info(admin)
  // Another client rewrites every key: each write is an invalidation for whoever must hear of it.
  const writeStarted = performance.now()
  for (let i = 0; i < KEYS; i += BATCH) {
    const pipeline = writer.pipeline()
    for (let j = i; j < i + BATCH; j++) pipeline.set(`m:${j}`, 'y'.repeat(100))
    await pipeline.exec()
  }
  const writeMs = performance.now() - writeStarted
  while (received.some((count) => count < KEYS) && performance.now() - writeStarted < 30_000) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const delivered = performance.now() - writeStarted
  const receivedAfterWrites = [...received]
  const afterWrites = await info(admin)
  // Writes of keys nobody read: default mode tells nobody, BCAST tells everyone.
  const unreadStarted = received.reduce((a, b) => a + b, 0)
  const pipeline = writer.pipeline()
  for (let j = 0; j < BATCH; j++) pipeline.set(`m:unread:${j}`, 'z')
  await pipeline.exec()
  await new Promise((resolve) => setTimeout(resolve, 200))
  const unreadMessages = received.reduce((a, b) => a + b, 0) - unreadStarted

  console.log(`\n## ${mode} (${CLIENTS} clients, ${KEYS} keys of 100 B)`)
  console.log(
    `after every client read every key: tracking_total_keys ${afterReads.tracking_total_keys}, ` +
      `tracking_total_items ${afterReads.tracking_total_items}, ` +
      `tracking_total_prefixes ${afterReads.tracking_total_prefixes}, ` +
      `used_memory change ${((afterReads.used_memory! - before.used_memory!) / 1024 / 1024).toFixed(1)} MiB, ` +
      `server CPU for the reads ${(cpu(afterReads) - cpu(before)).toFixed(2)} s (reads took ${readMs.toFixed(0)} ms)`,
  )
  console.log(
    `after another client rewrote every key: server CPU ${(cpu(afterWrites) - cpu(afterReads)).toFixed(2)} s ` +
      `(writes took ${writeMs.toFixed(0)} ms, all invalidations in after ${delivered.toFixed(0)} ms), ` +
      `invalidated keys received per client ${receivedAfterWrites.join(' / ')}, ` +
      `tracking_total_keys now ${afterWrites.tracking_total_keys}`,
  )
  console.log(`${BATCH} writes of keys no client read: ${unreadMessages} invalidations delivered in all`)
  for (const { data, subscriber } of clients) {
    data.disconnect()
    subscriber.disconnect()
  }
  admin.disconnect()
  writer.disconnect()
  await server.stop()
}

/** The trap default mode sets for a cache: its own write (NOLOOP) ends the tracking of that key. */
async function ownWriteTrap(mode: Mode): Promise<boolean> {
  const server = await startRedis()
  const data = new Redis(server.port)
  const subscriber = new Redis(server.port)
  const other = new Redis(server.port)
  const id = await subscriber.client('ID')
  let heard = 0
  subscriber.on('messageBuffer', () => heard++)
  await subscriber.subscribe(CHANNEL)
  const bcast = mode === 'bcast' ? ['BCAST', 'PREFIX', 'm:'] : []
  await data.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), ...bcast, 'NOLOOP')
  await data.get('m:k') // read: tracked
  await data.set('m:k', 'mine') // own write: not notified (NOLOOP), L1 keeps what it wrote
  await other.set('m:k', 'theirs') // another client's write: must be heard
  await new Promise((resolve) => setTimeout(resolve, 100))
  for (const client of [data, subscriber, other]) client.disconnect()
  await server.stop()
  return heard > 0
}

/** Whether a BCAST client hears of its own write, with and without NOLOOP. */
async function hearsOwnWrite(noloop: boolean): Promise<boolean> {
  const server = await startRedis()
  const data = new Redis(server.port)
  const subscriber = new Redis(server.port)
  const id = await subscriber.client('ID')
  let heard = 0
  subscriber.on('messageBuffer', () => heard++)
  await subscriber.subscribe(CHANNEL)
  const options = ['BCAST', 'PREFIX', 'm:', ...(noloop ? ['NOLOOP'] : [])]
  await data.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), ...options)
  await data.set('m:k', 'mine')
  await new Promise((resolve) => setTimeout(resolve, 100))
  for (const client of [data, subscriber]) client.disconnect()
  await server.stop()
  return heard > 0
}

for (const mode of ['default', 'bcast'] as const) await measure(mode)
for (const noloop of [false, true]) {
  console.log(`BCAST${noloop ? ' NOLOOP' : ''}: own write heard: ${await hearsOwnWrite(noloop)}`)
}
for (const mode of ['default', 'bcast'] as const) {
  console.log(
    `${mode}: read, own write, then another client's write -> invalidation heard: ${await ownWriteTrap(mode)}`,
  )
}
