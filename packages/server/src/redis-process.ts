import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

/** A private redis-server the server started, and how to stop it. */
export interface RedisProcess {
  url: string
  port: number
  pid: number
  /** Resolves when the process has exited (after stop() or a crash). */
  readonly exited: Promise<void>
  /** SIGTERM, then SIGKILL after a grace period; removes its working directory. */
  stop(): Promise<void>
}

/** Settings of the spawned server: seed 004 §9.1's cache-only configuration, or a durable one. */
export interface RedisProcessOptions {
  /** Path of the redis-server executable (see findRedisServer). */
  binary: string
  /** Cache only: its memory bound. @default '256mb' */
  maxMemory?: string
  /**
   * For data that must not be lost (the audit log, event streams): no eviction (a full instance refuses
   * writes instead of dropping keys) and an append-only file in its directory, fsynced every second.
   */
  durable?: boolean
}

/** Looks redis-server up on a PATH string; undefined when it is not there. */
export function findRedisServer(pathEnv: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, 'redis-server')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  return undefined
}

/** Starts a private redis-server on a free loopback port and waits until it answers PING. */
export async function spawnRedis(options: RedisProcessOptions): Promise<RedisProcess> {
  // Another process can take the free port between our probe and redis binding it: retry on a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(options, await freeLoopbackPort())
    } catch (error) {
      if (attempt >= 3) throw error
    }
  }
}

/**
 * Seed 004 §9.1 for a cache-only instance: bounded memory, LRU eviction, no RDB, no AOF.
 * allkeys-lru rather than the seed's volatile-lru: this instance holds only cache data, and with
 * volatile-lru a key without TTL (tag indexes) could make writes fail with OOM instead of evicting.
 */
function cacheArgs(maxMemory: string): string[] {
  return ['--maxmemory', maxMemory, '--maxmemory-policy', 'allkeys-lru', '--save', '', '--appendonly', 'no']
}

const DURABLE_ARGS = [
  '--maxmemory-policy',
  'noeviction',
  '--save',
  '',
  '--appendonly',
  'yes',
  '--appendfsync',
  'everysec',
]

async function launch(options: RedisProcessOptions, port: number): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), options.durable ? 'cachet-serve-durable-' : 'cachet-serve-redis-'))
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    ...(options.durable ? DURABLE_ARGS : cacheArgs(options.maxMemory ?? '256mb')),
    '--tcp-keepalive',
    '300',
    '--dir',
    dir,
  ]
  const child = spawn(options.binary, args, { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve())
  })
  // If Node exits without a graceful shutdown, do not leave an orphan redis-server behind.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  exited.then(() => {
    process.off('exit', killOnExit)
    rmSync(dir, { recursive: true, force: true })
  })

  try {
    await waitForPing(port, child, 10_000)
  } catch (error) {
    child.kill('SIGKILL')
    await exited
    throw error
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    exited,
    stop: () => stopChild(child, exited),
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
    await exited
    clearTimeout(timer)
  }
  await exited
}

/** A free TCP port on 127.0.0.1 (the OS picks it; it is released before being returned). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** Resolves once redis-server answers PING on the port; rejects if the child exits or time runs out. */
export function waitForPing(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const retry = () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`redis-server exited (code ${child.exitCode}) before answering on port ${port}`))
      } else if (Date.now() > deadline) {
        reject(new Error(`redis-server did not answer on port ${port} within ${timeoutMs} ms`))
      } else {
        setTimeout(attempt, 25)
      }
    }
    const attempt = () => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => socket.write('PING\r\n'))
      socket.once('data', (data) => {
        socket.destroy()
        if (data.toString().startsWith('+PONG')) resolve()
        else retry()
      })
      socket.once('error', () => {
        socket.destroy()
        retry()
      })
    }
    attempt()
  })
}
