import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import { build } from './app.js'
import { banner } from './banner.js'
import type { ServerConfig } from './config.js'
import { openResources, type ResourceOptions, type ServerResources } from './resources.js'

/** A listening server and how to stop it. */
export interface RunningServer {
  app: FastifyInstance
  /** http://host:port, with the port actually bound (PORT=0 picks a free one). */
  url: string
  resources: ServerResources
  /** The banner printed at start. */
  banner: string
  /** Graceful shutdown: stop accepting, finish in-flight requests, close the cache, stop the spawned Redis. */
  stop(): Promise<void>
}

/** Options of startServer() beyond the environment. */
export interface StartOptions extends Pick<ResourceOptions, 'redisSearchPath' | 'logger'> {
  /** Where the banner goes. @default stdout */
  print?: (text: string) => void
}

/** Opens everything, builds the app, listens, prints the banner, and starts the start-up warmers. */
export async function startServer(config: ServerConfig, options: StartOptions = {}): Promise<RunningServer> {
  const started = performance.now()
  const logger = options.logger ?? pino({ level: config.logLevel })
  const resources = await openResources(config, { redisSearchPath: options.redisSearchPath, logger })
  let app: FastifyInstance
  try {
    app = await build(config, resources, { logger })
    await app.listen({ port: config.port, host: config.host })
  } catch (error) {
    await resources.close()
    throw error
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : config.port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `http://${host}:${port}`
  const text = banner(url, resources, performance.now() - started)
  ;(options.print ?? ((t: string) => process.stdout.write(`${t}\n`)))(text)

  // Seed 004 §6.3: start-up warm-up runs in the background; readiness does not wait for it.
  resources.warmers.runStartup(resources.cache)

  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      resources.warmers.abortAll()
      // close() stops accepting, answers 503 to new requests on kept-alive sockets, and waits for
      // in-flight requests; only then are the cache and Redis closed under them.
      await app.close()
      await resources.close()
    })()
    return stopping
  }
  return { app, url, resources, banner: text, stop }
}
