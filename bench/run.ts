/**
 * cachet benchmark (issue 2): runs every scenario against a private redis-server and prints cachet's
 * figures next to the raw limits, bentocache and cache-manager, as ratios, with the goals.
 *
 *   npm run bench                      all scenarios (about 2.5 minutes)
 *   npm run bench -- --quick           short samples, for a smoke run
 *   npm run bench -- --only=l2-hit     some scenarios: l1-hit, l2-hit, miss-set, large-value, write-behind, http
 *
 * Node runs pinned to core 0 and redis-server to core 1 (taskset), so they never compete for a core.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startRedis } from '../packages/cachet/test/helpers/redis-server.js'
import { QUICK } from './harness.js'
import { type ScenarioResult, toMarkdown } from './report.js'
import { http } from './scenarios/http.js'
import { l1Hit } from './scenarios/l1-hit.js'
import { l2Hit } from './scenarios/l2-hit.js'
import { largeValue } from './scenarios/large-value.js'
import { missSet } from './scenarios/miss-set.js'
import { writeBehind } from './scenarios/write-behind.js'

const SCENARIOS: Record<string, (port: number) => Promise<ScenarioResult>> = {
  'l1-hit': l1Hit,
  'l2-hit': l2Hit,
  'miss-set': missSet,
  'large-value': largeValue,
  'write-behind': writeBehind,
  // autocannon runs on Redis' core: the cached routes hit L1, so Redis is nearly idle there.
  http: (port) => http(port, process.env[PINNED_ENV] === '1' ? REDIS_CORE : undefined),
}
const NODE_CORE = 0
const REDIS_CORE = 1
const PINNED_ENV = 'CACHET_BENCH_PINNED'

function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0
}

function canPin(): boolean {
  return hasTaskset() && os.availableParallelism() > REDIS_CORE
}

/** Re-runs this script under `taskset -c 0` (every thread of the new process inherits the mask). */
function respawnPinned(): never {
  const script = fileURLToPath(import.meta.url)
  const result = spawnSync(
    'taskset',
    ['-c', String(NODE_CORE), process.execPath, ...process.execArgv, script, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, [PINNED_ENV]: '1' } },
  )
  process.exit(result.status ?? 1)
}

function pinRedis(pid: number): boolean {
  try {
    // -a: every thread of redis-server (its background I/O threads too).
    execFileSync('taskset', ['-a', '-p', '-c', String(REDIS_CORE), String(pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function main() {
  if (process.env[PINNED_ENV] === undefined && canPin()) respawnPinned()
  const only = process.argv
    .find((arg) => arg.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',')
  const names = Object.keys(SCENARIOS).filter((name) => !only || only.includes(name))

  const redis = await startRedis()
  const pinned = process.env[PINNED_ENV] === '1' && pinRedis(redis.pid)
  const redisVersion = execFileSync('redis-server', ['--version']).toString().trim()
  console.log(
    `cachet bench: node ${process.version}, ${redisVersion.split(' ').slice(0, 3).join(' ')}, ` +
      `${os.cpus()[0]?.model ?? 'unknown cpu'} × ${os.availableParallelism()}, ` +
      (pinned
        ? `node on core ${NODE_CORE}, redis-server on core ${REDIS_CORE}`
        : 'NOT pinned (no taskset or one core)') +
      (QUICK ? ', quick run' : ''),
  )

  const started = Date.now()
  const results: ScenarioResult[] = []
  try {
    for (const name of names) {
      const t0 = Date.now()
      process.stdout.write(`running ${name}… `)
      results.push(await SCENARIOS[name]!(redis.port))
      console.log(`${((Date.now() - t0) / 1000).toFixed(1)} s`)
    }
  } finally {
    await redis.stop()
  }

  const markdown = toMarkdown(results)
  console.log(`\n${markdown}\n`)
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`)

  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results')
  mkdirSync(dir, { recursive: true })
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    redis: redisVersion,
    cpu: os.cpus()[0]?.model,
    cores: os.availableParallelism(),
    pinned,
    quick: QUICK,
    results,
  }
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`)
  console.log('written to bench/results/latest.json')
  const missed = results.flatMap((result) => result.goals).filter((g) => !g.met)
  if (missed.length > 0) console.log(`goals missed: ${missed.map((g) => g.name).join('; ')}`)
}

await main()
