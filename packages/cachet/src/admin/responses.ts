/** An error the admin API answers with its own status and a message safe to show to the caller. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/** 400 naming the offending field. */
export function badRequest(field: string, problem: string): HttpError {
  return new HttpError(400, 'E_BAD_REQUEST', `${field}: ${problem}`)
}

/** The envelope of every answer: `{ success, data | stats | details, message, timestamp }`. */
export function ok<T extends Record<string, unknown>>(body: T): T & { success: true; timestamp: string } {
  return { success: true, ...body, timestamp: new Date().toISOString() }
}

/** The envelope of every error answer. */
export function errorBody(code: string, message: string) {
  return { success: false as const, error: code, message, timestamp: new Date().toISOString() }
}

/** '12ms', '3.2s': the admin API's duration strings. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`
}

/** '3d 5h 23m' from seconds. */
export function formatUptime(seconds: number): string {
  const days = Math.floor(seconds / 86_400)
  const hours = Math.floor((seconds % 86_400) / 3600)
  const minutes = Math.floor((seconds % 3600) / 60)
  return days > 0 ? `${days}d ${hours}h ${minutes}m` : hours > 0 ? `${hours}h ${minutes}m` : `${minutes}m`
}
