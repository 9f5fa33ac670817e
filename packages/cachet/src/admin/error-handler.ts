import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { CachetError, InvalidKeyError, InvalidOptionError } from '../core/errors.js'
import { AuditUnavailableError } from './audit-log.js'
import { errorBody, HttpError } from './responses.js'
import { escapeControl } from './sanitize.js'
import { UnknownWarmupModuleError, WarmupBusyError } from './warmup.js'

/** Maps any thrown value to the HttpError the caller sees; never a stack, a host name or a secret. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error
  if (error instanceof AuditUnavailableError) {
    return new HttpError(
      503,
      'E_AUDIT_UNAVAILABLE',
      'audit log unavailable: mutating calls are refused until it is back',
    )
  }
  if (error instanceof WarmupBusyError) return new HttpError(409, 'E_WARMUP_BUSY', error.message)
  if (error instanceof UnknownWarmupModuleError) {
    return new HttpError(400, 'E_BAD_REQUEST', `body.modules: ${escapeControl(error.message)}`)
  }
  if (error instanceof InvalidKeyError || error instanceof InvalidOptionError) {
    return new HttpError(400, 'E_BAD_REQUEST', escapeControl(error.message).slice(0, 500))
  }
  if (error instanceof CachetError)
    return new HttpError(503, 'E_CACHE_UNAVAILABLE', 'cache backend unavailable')
  const fastifyError = error as Partial<FastifyError>
  const status = fastifyError.statusCode
  if (status === 413) return new HttpError(413, 'E_BODY_TOO_LARGE', 'body: too large')
  if (status === 415) {
    return new HttpError(415, 'E_UNSUPPORTED_MEDIA_TYPE', 'content-type: only application/json is accepted')
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors (bad JSON, empty body, forbidden __proto__): their messages are fixed text.
    const message = escapeControl(String(fastifyError.message ?? 'bad request')).slice(0, 300)
    return new HttpError(status, 'E_BAD_REQUEST', `body: ${message}`)
  }
  return new HttpError(503, 'E_INTERNAL', 'unexpected error; see the server log')
}

/**
 * Fastify error handler of the admin plugin: a safe JSON error body, never a 500
 * (docs/reliability.md M7).
 */
export function createErrorHandler(logger: FastifyBaseLogger) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const http = toHttpError(error)
    if (
      http.code === 'E_INTERNAL' ||
      http.code === 'E_CACHE_UNAVAILABLE' ||
      http.code === 'E_AUDIT_UNAVAILABLE'
    ) {
      logger.error({ err: error, reqId: request.id }, 'cachet admin request failed')
    }
    void reply.code(http.statusCode).headers(http.headers).send(errorBody(http.code, http.message))
  }
}
