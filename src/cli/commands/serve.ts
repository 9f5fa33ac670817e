import { loadConfig } from '../../server/config.js'
import { runUntilSignal } from '../../server/main.js'
import { startServer } from '../../server/start.js'

/** Options of `cachet serve`; they override PORT and HOST. */
export interface ServeOptions {
  port?: string
  host?: string
}

/** `cachet serve`: what `npm start` runs, with --port/--host taking precedence over the environment. */
export async function serveCommand(options: ServeOptions): Promise<void> {
  const env = { ...process.env }
  if (options.port !== undefined) env.PORT = options.port
  if (options.host !== undefined) env.HOST = options.host
  await runUntilSignal(await startServer(loadConfig(env)))
}
