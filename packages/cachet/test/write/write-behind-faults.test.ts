import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCache } from '../../src/index.js'
import { createWriteBehind } from '../../src/write/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'
import { openSink, waitFor } from './helpers.js'

const DURABLE = ['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']
let journalRedis: TestRedis
let cacheRedis: TestRedis
beforeAll(async () => {
  ;[journalRedis, cacheRedis] = await Promise.all([startRedis(DURABLE), startRedis()])
})
afterAll(async () => {
  await Promise.all([journalRedis.stop(), cacheRedis.stop()])
})

const writer = fileURLToPath(new URL('./fixtures/journal-writer.ts', import.meta.url))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs the writer until it says how many writes were acknowledged, then SIGKILLs it. */
async function writeThenKill(count: number): Promise<number> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', writer, journalRedis.url, cacheRedis.url, String(count)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let output = ''
  const acked = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk
      const match = /acked (\d+)/.exec(output)
      if (match) resolve(Number(match[1]))
    })
    child.on('exit', () => reject(new Error(`writer exited early: ${output}`)))
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
  return acked
}

describe('write-behind under faults', () => {
  it('10,000 writes acknowledged, writer SIGKILLed before any flush: all reach the database once', async () => {
    const journal = new Redis(journalRedis.url)
    const t0 = Date.now()
    const acked = await writeThenKill(10_000)
    const writeMs = Date.now() - t0
    expect(acked).toBe(10_000)
    expect(await journal.xlen('cachet:write-behind')).toBe(10_000)
    // The dead writer had read a batch it never flushed: those entries are pending under its name.
    const [pending] = (await journal.xpending('cachet:write-behind', 'flushers')) as [number]
    expect(pending).toBeGreaterThan(0)

    const sink = await openSink()
    const cache = createCache({ redis: cacheRedis.url, prefix: 'crash', logger: false, l2: RELAXED_L2 })
    const t1 = Date.now()
    const writeBehind = await createWriteBehind({ cache, journal, flush: sink.flush, claimIdle: '1s' })
    await waitFor(async () => (await sink.count()) === 10_000)
    console.info(
      `crash: 10,000 acknowledged in ${writeMs} ms (child start included), in PGlite ${Date.now() - t1} ms after restart`,
    )
    const rows = await sink.rows()
    expect(rows.every((row) => row.applies === 1)).toBe(true)
    expect(
      rows.every((row) => row.value && (row.value as { n: number }).n === Number(row.key.slice(5))),
    ).toBe(true)
    await waitFor(async () => (await writeBehind.health()).backlog === 0)
    await writeBehind.stop()
    journal.disconnect()
    await Promise.all([cache.close(), sink.db.close()])
  }, 120_000)

  it('the journal Redis (appendfsync always) SIGKILLed and restarted: no acknowledged write lost', async () => {
    // With everysec, Redis replies before writing the file while a slow fsync is in progress (up to 2 s),
    // so a SIGKILL can lose acknowledged writes: this test lost 27 that way on a loaded machine.
    const journalRedis = await startRedis([...DURABLE, '--appendfsync', 'always'])
    const stream = 'restart'
    const cache = createCache({ redis: cacheRedis.url, prefix: 'restart', logger: false, l2: RELAXED_L2 })
    const journal = new Redis(journalRedis.url, { maxRetriesPerRequest: 1 })
    journal.on('error', () => {})
    const writeOnly = await createWriteBehind({
      cache,
      journal,
      stream,
      flush: async () => {},
      flusher: false,
    })
    const acknowledged: string[] = []
    let refused = 0
    const writing = (async () => {
      for (let i = 0; i < 3_000; i++) {
        try {
          await writeOnly.write(`k:${i}`, i)
          acknowledged.push(`k:${i}`)
        } catch {
          refused++
        }
      }
    })()
    await waitFor(async () => acknowledged.length >= 500)
    await journalRedis.kill()
    await sleep(200)
    await journalRedis.restart()
    await writing
    expect(acknowledged.length).toBeGreaterThan(500)

    const sink = await openSink()
    const writeBehind = await createWriteBehind({ cache, journal, stream, flush: sink.flush })
    await waitFor(async () => (await writeBehind.health()).backlog === 0)
    const inDatabase = new Set((await sink.rows()).map((row) => row.key))
    expect(acknowledged.filter((key) => !inDatabase.has(key))).toEqual([])
    console.info(
      `journal restart: ${acknowledged.length} acknowledged, ${refused} refused while Redis was down`,
    )
    expect((await writeBehind.health()).journal.appendfsync).toBe('always')
    await writeBehind.stop()
    await writeOnly.stop()
    journal.disconnect()
    await Promise.all([cache.close(), sink.db.close(), journalRedis.stop()])
  }, 120_000)

  it('the database down for 10 s: writes still acknowledged, backlog grows and is visible, then drains', async () => {
    const stream = 'outage'
    const cache = createCache({ redis: cacheRedis.url, prefix: 'outage', logger: false, l2: RELAXED_L2 })
    const journal = new Redis(journalRedis.url)
    const sink = await openSink()
    let down = true
    const writeBehind = await createWriteBehind<number>({
      cache,
      journal,
      stream,
      interval: '100ms',
      maxAttempts: 3,
      backoff: { min: '50ms', max: '1s' },
      flush: async (batch) => {
        if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432')
        await sink.flush(batch)
      },
    })
    const started = Date.now()
    let written = 0
    const backlogs: number[] = []
    while (Date.now() - started < 10_000) {
      await Promise.all(Array.from({ length: 20 }, () => writeBehind.write(`k:${written++}`, written)))
      backlogs.push((await writeBehind.health()).backlog)
      await sleep(100)
    }
    const during = await writeBehind.health()
    expect(during.backlog).toBe(written)
    expect(during.backlogAgeMs).toBeGreaterThan(9_000)
    expect(during.status).toBe('degraded')
    expect(during.failures).toBeGreaterThan(5)
    expect(during.deadLettered).toBe(0)
    expect(backlogs.at(-1)!).toBeGreaterThan(backlogs[0]!)
    console.info(
      `outage: ${written} writes acknowledged in 10 s, backlog ${during.backlog}, age ${during.backlogAgeMs} ms`,
    )

    down = false
    const t0 = Date.now()
    await waitFor(async () => (await writeBehind.health()).backlog === 0)
    console.info(`outage: drained in ${Date.now() - t0} ms`)
    expect(await sink.count()).toBe(written)
    expect((await sink.rows()).every((row) => row.applies === 1)).toBe(true)
    expect((await writeBehind.health()).deadLettered).toBe(0)
    await writeBehind.stop()
    journal.disconnect()
    await Promise.all([cache.close(), sink.db.close()])
  }, 120_000)
})
