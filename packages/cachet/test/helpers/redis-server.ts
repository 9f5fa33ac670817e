import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freeLoopbackPort, waitForPing } from '../../../server/src/redis-process.js'

/** A private redis-server started on a free loopback port for one test file. */
export interface TestRedis {
  port: number
  url: string
  pid: number
  /** SIGSTOP: the server freezes, sockets stay open (the "frozen Redis" fault). */
  pause(): void
  /** SIGCONT after pause(). */
  resume(): void
  /** SIGKILL, then wait for the process to exit. */
  kill(): Promise<void>
  /** Start again on the same port (after kill()), empty. */
  restart(): Promise<void>
  /** Stop for good and remove its directory. */
  stop(): Promise<void>
}

/**
 * L2 settings for tests that do not exercise Redis deadlines: a loaded 2-core CI machine can take
 * longer than the production default (100 ms) to answer a large pipeline.
 */
export const RELAXED_L2 = { timeout: '3s' } as const

/** Finds a free TCP port on 127.0.0.1. */
export const freePort = freeLoopbackPort

/**
 * Starts redis-server on a free loopback port: no persistence, DEBUG allowed locally.
 * Extra arguments (e.g. ['--maxmemory', '50mb']) are appended; `options.port` picks the port.
 */
export async function startRedis(
  extraArgs: string[] = [],
  options: { port?: number } = {},
): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'cachet-redis-'))
  let port = options.port ?? (await freePort())
  let child: ChildProcess

  const launch = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--enable-debug-command',
        'local',
        ...extraArgs,
      ],
      { stdio: 'ignore' },
    )
    child.on('error', () => {})
    await waitForPing(port, child, 10_000)
  }

  for (let attempt = 0; ; attempt++) {
    try {
      await launch()
      break
    } catch (error) {
      child!.kill('SIGKILL')
      if (attempt >= 3 || options.port !== undefined) throw error
      port = await freePort()
    }
  }

  const exited = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve()
      else child.once('exit', () => resolve())
    })

  const redis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid ?? -1
    },
    pause: () => {
      child.kill('SIGSTOP')
    },
    resume: () => {
      child.kill('SIGCONT')
    },
    kill: async () => {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
      await exited()
    },
    restart: async () => {
      await launch()
    },
    stop: async () => {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
      await exited()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return redis
}
