import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { waitForPing } from '../../../server/src/redis-process.js'
import { freePort, startRedis, type TestRedis } from './redis-server.js'

const run = promisify(execFile)

/** The master name the sentinels monitor. */
export const SENTINEL_MASTER_NAME = 'cachet-test'

/** A master, one replica and three sentinels (quorum 2) on free loopback ports. */
export interface TestSentinel {
  /** The two data nodes; which one is master changes after a failover (see masterPort()). */
  nodes: TestRedis[]
  sentinels: Array<{ host: string; port: number }>
  name: string
  /** `redis+sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/name`. */
  url: string
  /** The master's port as the sentinels report it now. */
  masterPort(): Promise<number>
  /** Resolves once the sentinels name a master other than `oldPort` and it accepts writes. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>
  stop(): Promise<void>
}

/**
 * Starts the data nodes, then three `redis-server --sentinel` processes monitoring the master with a
 * 1 s down-after (failover within a few seconds on loopback).
 */
export async function startRedisSentinel(): Promise<TestSentinel> {
  const master = await startRedis()
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)])
  await waitFor(async () => (await info(replica.port, 'replication')).includes('master_link_status:up'))
  const sentinels: Array<{ port: number; child: ChildProcess; dir: string }> = []
  for (let i = 0; i < 3; i++) sentinels.push(await startSentinelProcess(master.port))
  // Every sentinel must know the replica and the other sentinels before a failover can be agreed on.
  for (const sentinel of sentinels) {
    await waitFor(async () => {
      const { stdout } = await run('redis-cli', [
        '-p',
        String(sentinel.port),
        'SENTINEL',
        'MASTER',
        SENTINEL_MASTER_NAME,
      ])
      const fields = stdout.split('\n')
      const value = (name: string) => Number(fields[fields.indexOf(name) + 1])
      return value('num-slaves') >= 1 && value('num-other-sentinels') >= 2
    })
  }
  const hosts = sentinels.map((sentinel) => ({ host: '127.0.0.1', port: sentinel.port }))

  const masterPort = async () => {
    for (const sentinel of sentinels) {
      if (sentinel.child.exitCode !== null) continue
      const { stdout } = await run('redis-cli', [
        '-p',
        String(sentinel.port),
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        SENTINEL_MASTER_NAME,
      ])
      const port = Number(stdout.split('\n')[1])
      if (port > 0) return port
    }
    throw new Error('no sentinel answered')
  }

  return {
    nodes: [master, replica],
    sentinels: hosts,
    name: SENTINEL_MASTER_NAME,
    url: `redis+sentinel://${hosts.map(({ host, port }) => `${host}:${port}`).join(',')}/${SENTINEL_MASTER_NAME}`,
    masterPort,
    waitForFailover: async (oldPort, timeoutMs = 30_000) => {
      let port = oldPort
      await waitFor(async () => {
        port = await masterPort()
        return port !== oldPort && (await info(port, 'replication')).includes('role:master')
      }, timeoutMs)
      return port
    },
    stop: async () => {
      for (const sentinel of sentinels) {
        sentinel.child.kill('SIGKILL')
        rmSync(sentinel.dir, { recursive: true, force: true })
      }
      await Promise.all([master.stop(), replica.stop()])
    },
  }
}

async function startSentinelProcess(masterPort: number) {
  const dir = mkdtempSync(join(tmpdir(), 'cachet-sentinel-'))
  const port = await freePort()
  const config = join(dir, 'sentinel.conf')
  // Sentinel rewrites its configuration file as it learns the topology: it must be its own, writable.
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
      `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
      `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
      '',
    ].join('\n'),
  )
  const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' })
  child.on('error', () => {})
  await waitForPing(port, child, 10_000)
  return { port, child, dir }
}

async function info(port: number, section: string): Promise<string> {
  return (await run('redis-cli', ['-p', String(port), 'INFO', section]).catch(() => ({ stdout: '' }))).stdout
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
