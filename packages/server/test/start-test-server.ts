import { loadConfig } from '../src/config.js'
import { type RunningServer, type StartOptions, startServer } from '../src/start.js'

/** The admin token test servers use. */
export const ADMIN_TOKEN = 'test-admin-token-0123456789'
/** Request headers carrying the admin token. */
export const ADMIN_HEADERS = { authorization: `Bearer ${ADMIN_TOKEN}` }

/** Request headers carrying a demo JWT of `userId`, from the server's own token route. */
export async function userHeaders(server: RunningServer, userId: number): Promise<{ authorization: string }> {
  const response = await server.app.inject({ method: 'POST', url: '/api/demo/token', payload: { userId } })
  return { authorization: `Bearer ${response.json().token}` }
}

/**
 * Starts the real server on a free loopback port, quiet, with the given environment on top. Only the
 * config module warms at start-up: tests see the dashboard's and searches' first request MISS, and no
 * long start-up run holds the warm-up lock (409) when a test starts its own
 * (`CACHET_STARTUP_WARMUP_SKIP: ''` brings every start-up module back).
 */
export function startTestServer(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<RunningServer> {
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: 'silent',
    CACHET_ADMIN_TOKEN: ADMIN_TOKEN,
    CACHET_STARTUP_WARMUP_SKIP: 'dashboard,search,vehicles,products',
    ...env,
  })
  return startServer(config, { print: () => {}, ...options })
}

/** The `app;dur=` figure of a Server-Timing header, in ms. */
export function serverTiming(header: unknown): number {
  const match = /app;dur=([\d.]+)/.exec(String(header))
  if (!match) throw new Error(`no Server-Timing app figure in ${String(header)}`)
  return Number(match[1])
}
