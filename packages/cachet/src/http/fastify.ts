import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestAbortHookHandler,
  onResponseHookHandler,
  onSendHookHandler,
  preHandlerHookHandler,
} from 'fastify'
import fp from 'fastify-plugin'
import type { ResolvedRoute, ResponseCacheOptions, RouteCacheOptions } from './options.js'
import { type Fill, type Reply, ResponseCache } from './response-cache.js'

export { invalidatePattern, invalidateTags, invalidateType, invalidateUser } from './invalidate.js'
export type { CacheScope, ResponseCacheOptions, RouteCacheOptions } from './options.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Cache this route's responses (cachet/fastify). */
    cache?: RouteCacheOptions<FastifyRequest>
  }
}

/** Options of the fastifyCache plugin: the engine and the settings shared by every cached route. */
export type FastifyCacheOptions = ResponseCacheOptions<FastifyRequest>

const kFill = Symbol('cachet.fill')
type WithFill = FastifyRequest & { [kFill]?: Fill }

/**
 * Fastify plugin: caches the responses of routes declaring `config: { cache: { type } }`. Register it
 * before the routes (it hooks each route as it is declared). Its lookup runs as the route's last
 * preHandler, after your authentication hooks; the handler's response is captured in onSend.
 */
export const fastifyCache = fp(
  async (app: FastifyInstance, options: FastifyCacheOptions) => {
    const responses = new ResponseCache<FastifyRequest>(options)
    app.addHook('onRoute', (route) => {
      const config = (route.config as { cache?: RouteCacheOptions<FastifyRequest> } | undefined)?.cache
      if (!config) return
      const resolved = responses.route(config)
      route.preHandler = [...toArray(route.preHandler), lookupHook(responses, resolved)]
      route.onSend = [...toArray(route.onSend), captureHook]
      route.onResponse = [...toArray(route.onResponse), releaseHook]
      route.onRequestAbort = [...toArray(route.onRequestAbort), abortHook]
    })
  },
  { name: 'cachet', fastify: '5.x' },
)

function toArray<T>(hooks: T | T[] | undefined): T[] {
  if (hooks === undefined) return []
  return Array.isArray(hooks) ? hooks : [hooks]
}

function lookupHook(
  responses: ResponseCache<FastifyRequest>,
  route: ResolvedRoute<FastifyRequest>,
): preHandlerHookHandler {
  return async function cachetLookup(request, reply) {
    const decision = await responses.begin(
      {
        request,
        method: request.method,
        host: request.host,
        route: request.routeOptions.url ?? request.url.split('?')[0]!,
        params: request.params,
        query: request.query,
        headers: request.headers,
      },
      route,
    )
    if (decision.action === 'reply') {
      send(reply, decision.reply)
      return reply
    }
    if (decision.action === 'handle') reply.headers(decision.headers)
    else (request as WithFill)[kFill] = decision.fill
  }
}

/**
 * The handler's response, handed to the fill. Callback-style rather than async: on a route's every
 * request that is not a fill (a hit above all) it hands the payload on at once, without a promise.
 */
const captureHook: onSendHookHandler = function cachetCapture(request, reply, payload, done) {
  const fill = (request as WithFill)[kFill]
  if (!fill) return done(null, payload)
  ;(request as WithFill)[kFill] = undefined
  // As Fastify does for an async hook: what its next step throws is answered as an error, never left
  // as an unhandled rejection.
  capture(fill, reply, payload).then(
    (body) => {
      try {
        done(null, body)
      } catch (error) {
        done(error as Error)
      }
    },
    (error: Error) => done(error),
  )
}

async function capture(fill: Fill, reply: FastifyReply, payload: unknown): Promise<unknown> {
  // Only a body produced in one piece can be stored; streams pass through untouched.
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload) && payload !== null && payload !== undefined) {
    reply.headers(fill.abort('streamed'))
    return payload
  }
  // An oversized body is sent as it is: no copy, no hash, no encoding.
  if (payload && Buffer.byteLength(payload) > fill.maxBodyBytes) {
    reply.headers(fill.abort('body-size'))
    return payload
  }
  const body = typeof payload === 'string' ? Buffer.from(payload) : (payload ?? Buffer.alloc(0))
  const final = await fill.complete({ status: reply.statusCode, headers: reply.getHeaders(), body })
  for (const name of final.remove) reply.removeHeader(name)
  reply.code(final.status).headers(final.headers)
  return final.body
}

/** A request that ended without reaching onSend (hijacked, aborted) must still release its waiters. */
function release(request: FastifyRequest): void {
  const fill = (request as WithFill)[kFill]
  if (!fill) return
  ;(request as WithFill)[kFill] = undefined
  fill.abort('handler-error')
}

const releaseHook: onResponseHookHandler = function cachetRelease(request, _reply, done) {
  release(request)
  done()
}

const abortHook: onRequestAbortHookHandler = function cachetAbort(request, done) {
  release(request)
  done()
}

function send(reply: FastifyReply, final: Reply): void {
  for (const name of final.remove) reply.removeHeader(name)
  reply.code(final.status).headers(final.headers)
  reply.send(final.status === 304 ? undefined : final.body)
}
