import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig } from './config.js'
import { type RunningServer, startServer } from './start.js'

/** Runs the server until SIGINT/SIGTERM, then shuts it down gracefully (a second signal forces exit). */
export async function runUntilSignal(server: RunningServer): Promise<void> {
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

/** `npm start [-- --port N --host H]`: reads the environment (flags win) and serves until a signal. */
export async function main(
  env: NodeJS.ProcessEnv = process.env,
  argv = process.argv.slice(2),
): Promise<void> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, host: { type: 'string' } },
    })
    const withFlags = {
      ...env,
      ...(values.port && { PORT: values.port }),
      ...(values.host && { HOST: values.host }),
    }
    await runUntilSignal(await startServer(loadConfig(withFlags)))
  } catch (error) {
    const message =
      error instanceof ConfigError ? error.message : `failed to start: ${(error as Error).message}`
    process.stderr.write(`cachet: ${message}\n`)
    process.exit(1)
  }
}

// Run only when executed directly (npm start), not when a test imports this module.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
