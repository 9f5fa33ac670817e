import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import type { ServerConfig } from './config.js'
import { findRedisServer, type RedisProcess, spawnRedis } from './redis-process.js'

/** What a server started by runInstances() tells its parent once it listens. */
export interface ReadyMessage {
  type: 'cachet-ready'
  url: string
}

/** Several demo servers on one Redis, and how to stop them. */
export interface RunningInstances {
  /** The URL of each instance, in port order. */
  urls: string[]
  /** The cache Redis they share. */
  redisUrl: string
  /** SIGTERM to every instance, waits for them, then stops the Redis servers spawned here. */
  stop(): Promise<void>
  /** Resolves when an instance exits without stop() having been called (with its exit code). */
  readonly lost: Promise<number>
}

/** How long an instance may take to seed its database and listen. */
const READY_TIMEOUT_MS = 120_000

/**
 * `npm start -- --instances N`: N server processes (this file's `main.ts`, forked) on ports
 * PORT..PORT+N-1 (each a free one when PORT is 0), sharing one cache Redis and one durable Redis:
 * the embedded ones, spawned once here, or REDIS_URL / CACHET_DURABLE_REDIS_URL. They share one admin
 * token. Each instance keeps its own demo database unless DATABASE_URL names a shared one.
 */
export async function startInstances(
  config: ServerConfig,
  count: number,
  env: NodeJS.ProcessEnv,
  print: (line: string) => void,
): Promise<RunningInstances> {
  if (config.port > 0 && config.port + count - 1 > 65535) {
    throw new Error(`--instances ${count} from PORT ${config.port} goes past port 65535`)
  }
  const spawned: RedisProcess[] = []
  const stopSpawned = () => Promise.all(spawned.map((redis) => redis.stop()))
  try {
    const binary = config.redisUrl && config.durableRedisUrl ? undefined : findRedisServer(env.PATH)
    if (!config.redisUrl && !binary) {
      throw new Error('--instances needs a shared Redis: install redis-server or set REDIS_URL')
    }
    const redisUrl =
      config.redisUrl ?? (await spawnInto(spawned, binary!, { maxMemory: config.redisMaxMemory }))
    const durableUrl =
      config.durableRedisUrl ??
      (config.redisUrl ? undefined : await spawnInto(spawned, binary!, { durable: true }))
    const adminToken = config.adminToken ?? randomBytes(24).toString('base64url')
    const children = Array.from({ length: count }, (_, i) =>
      fork(process.argv[1]!, [], {
        execArgv: process.execArgv,
        env: {
          ...env,
          PORT: String(config.port === 0 ? 0 : config.port + i),
          REDIS_URL: redisUrl,
          CACHET_DURABLE_REDIS_URL: durableUrl ?? '',
          CACHET_ADMIN_TOKEN: adminToken,
          CACHET_INSTANCES: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      }),
    )
    let stopping = false
    const lost = new Promise<number>((resolve) => {
      for (const child of children) child.once('exit', (code) => stopping || resolve(code ?? 1))
    })
    const stopChildren = async () => {
      stopping = true
      await Promise.all(children.map(stopChild))
    }
    let urls: string[]
    try {
      urls = await Promise.race([
        Promise.all(children.map((child, i) => readyUrl(child, i, print))),
        lost.then((code) =>
          Promise.reject(new Error(`an instance exited with code ${code} before it was ready`)),
        ),
      ])
    } catch (error) {
      await stopChildren()
      throw error
    }
    if (config.adminToken === undefined) print(`Admin token (all instances)   ${adminToken}   (generated)`)
    print(`cachet: ${count} instances on the Redis at ${redisUrl}: ${urls.join('  ')}`)
    return {
      urls,
      redisUrl,
      lost,
      stop: async () => {
        await stopChildren()
        await stopSpawned()
      },
    }
  } catch (error) {
    await stopSpawned()
    throw error
  }
}

async function spawnInto(
  spawned: RedisProcess[],
  binary: string,
  options: { maxMemory?: string; durable?: boolean },
): Promise<string> {
  const redis = await spawnRedis({ binary, ...options })
  spawned.push(redis)
  return redis.url
}

/** Forwards the child's output, each line prefixed with its number, and resolves its URL once it listens. */
function readyUrl(child: ChildProcess, index: number, print: (line: string) => void): Promise<string> {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', (line) => print(`[${index + 1}] ${line}`))
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`instance ${index + 1} not ready in ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    )
    child.on('message', (message: ReadyMessage) => {
      if (message?.type !== 'cachet-ready') return
      clearTimeout(timer)
      resolve(message.url)
    })
  })
}

/** SIGTERM (the graceful shutdown of main.ts), SIGKILL if it has not exited 10 s later. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}
