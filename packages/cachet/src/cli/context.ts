import type { AdminClient } from './client.js'
import type { Output } from './output.js'

/** What every admin command gets: a client for the server, where to print, and the output mode. */
export interface CommandContext {
  client: AdminClient
  output: Output
  /** --json: print the server's answer as JSON instead of a human summary. */
  json: boolean
}
