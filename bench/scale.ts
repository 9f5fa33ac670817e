/**
 * How cachet grows with the number of application instances on one Redis (docs/scale.md): for 1, 2,
 * 4, 8 and 16 processes, each offering the same fixed load (bench/scale-worker.ts), measures the
 * invalidation fan-out (bus messages received per instance per second, the time to apply one, the
 * process CPU of each instance), the Redis load each instance adds, and Redis' own CPU and tag index size.
 *
 *   npm run bench:scale                  1, 2, 4, 8, 16 instances (about 3 minutes)
 *   npm run bench:scale -- --quick       shorter windows, for a smoke run
 *   npm run bench:scale -- --instances=1,4
 */
import { execFileSync, fork } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { startRedis } from '../packages/cachet/test/helpers/redis-server.js'
import type { WorkerFigures, WorkerPlan } from './scale-worker.js'

const QUICK = process.argv.includes('--quick')
const COUNTS = (
  process.argv.find((arg) => arg.startsWith('--instances='))?.slice('--instances='.length) ?? '1,2,4,8,16'
)
  .split(',')
  .map(Number)
const LOAD = { readsPerS: 500, writesPerS: 20, keys: 2_000, tags: 50 }
// Each worker fills Redis and its L1 before it reports ready, but a peer's fill (its writes) invalidates
// those L1 copies: the warm-up reads every key once more (keys ÷ reads per second = 4 s) before measuring.
const WARMUP_MS = QUICK ? 5_000 : 6_000
const WINDOW_MS = QUICK ? 2_000 : 10_000

/** One row of the result: a number of instances and what each cost. */
interface Row {
  instances: number
  /** Per instance, per second (mean over instances). */
  receivedPerS: number
  cpuMsPerS: number
  l2ReadsPerS: number
  l2WritesPerS: number
  /** getOrSet calls served per second per instance (the offered load, unless the machine fell behind). */
  readsPerS: number
  /** Time to apply one received message to L1, in µs (undefined without messages). */
  applyUsPerMessage?: number
  /** Redis: CPU in ms per second, commands per second, memory of the tag index. */
  redisCpuMsPerS: number
  redisCommandsPerS: number
  tagIndexBytes: number
}

function redisCounters(info: string) {
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
  return {
    cpuS: field('used_cpu_user') + field('used_cpu_sys'),
    commands: field('total_commands_processed'),
  }
}

async function tagIndexBytes(redis: Redis): Promise<number> {
  let total = 0
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'scale:__tag:*', 'COUNT', 1_000)
    cursor = next
    for (const key of keys) total += Number(await redis.memory('USAGE', key)) || 0
  } while (cursor !== '0')
  return total
}

async function measure(count: number, redisUrl: string, admin: Redis): Promise<Row> {
  await admin.flushall()
  const script = join(dirname(fileURLToPath(import.meta.url)), 'scale-worker.ts')
  const workers = Array.from({ length: count }, () => fork(script, [], { execArgv: ['--import', 'tsx'] }))
  const plan: WorkerPlan = { redisUrl, ...LOAD, warmupMs: WARMUP_MS, windowMs: WINDOW_MS }
  const exited = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)))
  const ready = workers.map(
    (worker) => new Promise<void>((resolve) => worker.once('message', () => resolve())),
  )
  const results = workers.map(
    (worker) =>
      new Promise<WorkerFigures>((resolve) =>
        worker.on('message', (m: { figures?: WorkerFigures }) => m.figures && resolve(m.figures)),
      ),
  )
  for (const worker of workers) worker.send(plan)
  // Every instance is connected before any starts its load, so all windows overlap.
  await Promise.all(ready)
  for (const worker of workers) worker.send('go')
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS))
  const before = redisCounters(await admin.info())
  const t0 = performance.now()
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS))
  const after = redisCounters(await admin.info())
  const seconds = (performance.now() - t0) / 1000
  const figures = await Promise.all(results)
  const perInstance = (pick: (f: WorkerFigures) => number) =>
    figures.reduce((sum, f) => sum + pick(f) / (f.windowMs / 1000), 0) / figures.length
  const gaps = figures.flatMap((f) => f.gaps)
  if (gaps.length > 0)
    console.log(`\n  bus gaps: ${gaps.slice(0, 5).join('; ')}${gaps.length > 5 ? ' …' : ''}`)
  const row = {
    instances: count,
    receivedPerS: perInstance((f) => f.received),
    readsPerS: perInstance((f) => f.reads),
    applyUsPerMessage: figures.some((f) => f.received > 0)
      ? (figures.reduce((sum, f) => sum + f.applyMs, 0) * 1000) /
        figures.reduce((sum, f) => sum + f.received, 0)
      : undefined,
    cpuMsPerS: perInstance((f) => f.cpuMs),
    l2ReadsPerS: perInstance((f) => f.l2Reads),
    l2WritesPerS: perInstance((f) => f.l2Writes),
    redisCpuMsPerS: ((after.cpuS - before.cpuS) * 1000) / seconds,
    redisCommandsPerS: (after.commands - before.commands) / seconds,
    tagIndexBytes: await tagIndexBytes(admin),
  }
  await Promise.all(exited)
  return row
}

const fixed = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

function toMarkdown(rows: Row[]): string {
  const lines = [
    '| instances | getOrSet /s per instance | bus msgs received /s per instance | apply per msg | CPU per instance (ms/s) | L2 reads /s per instance | L2 writes /s per instance | Redis CPU (ms/s) | Redis commands /s | tag index |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const row of rows) {
    lines.push(
      `| ${row.instances} | ${fixed(row.readsPerS)} | ${fixed(row.receivedPerS)} | ${row.applyUsPerMessage === undefined ? '–' : `${fixed(row.applyUsPerMessage, 1)} µs`} | ${fixed(row.cpuMsPerS, 1)} | ${fixed(row.l2ReadsPerS)} | ${fixed(row.l2WritesPerS)} | ${fixed(row.redisCpuMsPerS, 1)} | ${fixed(row.redisCommandsPerS)} | ${fixed(row.tagIndexBytes / 1024)} KiB |`,
    )
  }
  return lines.join('\n')
}

async function main() {
  const redis = await startRedis()
  const admin = new Redis(redis.url)
  const redisVersion = execFileSync('redis-server', ['--version']).toString().trim()
  console.log(
    `cachet scale bench: node ${process.version}, ${redisVersion.split(' ').slice(0, 3).join(' ')}, ` +
      `${os.cpus()[0]?.model ?? 'unknown cpu'} × ${os.availableParallelism()}, load average ${os.loadavg()[0]!.toFixed(1)}, ` +
      `per instance ${LOAD.readsPerS} getOrSet/s and ${LOAD.writesPerS} set()/s over ${LOAD.keys} keys` +
      (QUICK ? ', quick run' : ''),
  )
  const rows: Row[] = []
  try {
    for (const count of COUNTS) {
      process.stdout.write(`${count} instance(s)… `)
      const t0 = Date.now()
      rows.push(await measure(count, redis.url, admin))
      console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s`)
    }
  } finally {
    admin.disconnect()
    await redis.stop()
  }
  const markdown = toMarkdown(rows)
  console.log(`\n${markdown}\n`)
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results')
  mkdirSync(dir, { recursive: true })
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    redis: redisVersion,
    cpu: os.cpus()[0]?.model,
    cores: os.availableParallelism(),
    loadAverage: os.loadavg()[0],
    load: LOAD,
    quick: QUICK,
    rows,
  }
  writeFileSync(join(dir, 'scale-latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  console.log('written to bench/results/scale-latest.json')
}

await main()
