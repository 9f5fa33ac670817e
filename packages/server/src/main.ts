import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from './config.js'
import { type ReadyMessage, startInstances } from './instances.js'
import { type RunningServer, startServer } from './start.js'

/** Runs the server until SIGINT/SIGTERM, then shuts it down gracefully (a second signal forces exit). */
export async function runUntilSignal(server: Pick<RunningServer, 'stop'>): Promise<void> {
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    signals++
    if (signals > 1) {
      process.stderr.write(`cachet: second ${signal}, exiting now\n`)
      process.exit(130)
    }
    process.stderr.write(`cachet: ${signal} received, shutting down…\n`)
    server.stop().then(
      () => {
        process.stderr.write('cachet: stopped\n')
        process.exit(0)
      },
      (error: Error) => {
        process.stderr.write(`cachet: shutdown failed: ${error.message}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

/**
 * `npm start [-- --port N --host H --instances N]`: reads the environment (flags win) and serves until
 * a signal; with more than one instance, runs that many server processes on one Redis (instances.ts).
 */
export async function main(
  env: NodeJS.ProcessEnv = process.env,
  argv = process.argv.slice(2),
): Promise<void> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, host: { type: 'string' }, instances: { type: 'string' } },
    })
    const withFlags = {
      ...env,
      ...(values.port && { PORT: values.port }),
      ...(values.host && { HOST: values.host }),
      ...(values.instances && { CACHET_INSTANCES: values.instances }),
    }
    const config = loadConfig(withFlags)
    if (config.instances > 1) {
      const instances = await startInstances(config, config.instances, withFlags, (line) =>
        process.stdout.write(`${line}\n`),
      )
      instances.lost.then(async (code) => {
        process.stderr.write(`cachet: an instance exited (code ${code}); stopping the others\n`)
        await instances.stop()
        process.exit(1)
      })
      await runUntilSignal(instances)
      return
    }
    const server = await startServer(config)
    // Started by `--instances`: tell the parent where this instance listens.
    process.send?.({ type: 'cachet-ready', url: server.url } satisfies ReadyMessage)
    await runUntilSignal(server)
  } catch (error) {
    const message =
      error instanceof ConfigError ? error.message : `failed to start: ${(error as Error).message}`
    process.stderr.write(`cachet: ${message}\n`)
    process.exit(1)
  }
}

// Run only when executed directly (npm start), not when a test imports this module.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
