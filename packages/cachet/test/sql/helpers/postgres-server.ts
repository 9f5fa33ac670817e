import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { accessSync, chownSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import pg from 'pg'
import { freePort } from '../../helpers/redis-server.js'

/** A private PostgreSQL server in a temp dir on a free loopback port (RELIABILITY §B.0 H4). */
export interface TestPostgres {
  url: string
  pid: number
  stop(): Promise<void>
}

const onPath = (command: string) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK)
      return true
    } catch {
      return false
    }
  })

/** initdb refuses to run as root: then the server runs as the `postgres` user, when there is one. */
function serverUser(): { uid: number; gid: number } | undefined | null {
  if (process.getuid?.() !== 0) return undefined
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    return { uid, gid }
  } catch {
    return null
  }
}

/** Why a PostgreSQL server cannot be started here, or undefined when it can. */
export function postgresUnavailable(): string | undefined {
  if (!onPath('initdb') || !onPath('postgres')) return 'initdb and postgres are not on PATH'
  if (serverUser() === null) return 'running as root and there is no postgres user to run the server as'
  return undefined
}

/** Runs initdb, starts postgres, waits until it accepts connections. */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'cachet-pg-'))
  const user = serverUser() ?? undefined
  if (user) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  execFileSync('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-N'], {
    stdio: 'ignore',
    ...user,
  })
  const port = await freePort()
  const child: ChildProcess = spawn(
    'postgres',
    ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
    { stdio: 'ignore', ...user },
  )
  child.on('error', () => {})
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const deadline = Date.now() + 20_000
  for (;;) {
    const client = new pg.Client({ connectionString: url })
    try {
      await client.connect()
      await client.end()
      break
    } catch (error) {
      await client.end().catch(() => {})
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL')
        rmSync(dir, { recursive: true, force: true })
        throw error
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    url,
    pid: child.pid ?? -1,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        // Smart shutdown waits for clients to leave instead of sending them a FATAL error mid-close;
        // fast shutdown after 5 s in case one lingers.
        child.kill('SIGTERM')
        const fast = setTimeout(() => child.kill('SIGINT'), 5_000)
        await exited
        clearTimeout(fast)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
