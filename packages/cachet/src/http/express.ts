import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { captureResponse, writeReply } from './node-response.js'
import type { ResponseCacheOptions, RouteCacheOptions } from './options.js'
import { type RequestView, ResponseCache } from './response-cache.js'

export { invalidatePattern, invalidateTags, invalidateType, invalidateUser } from './invalidate.js'
export type { CacheScope, ResponseCacheOptions, RouteCacheOptions } from './options.js'

/** Options of cacheResponse(): the engine, shared settings and this route's settings in one object. */
export type ExpressCacheOptions = ResponseCacheOptions<Request> & RouteCacheOptions<Request>

/**
 * Express middleware caching one route's responses. Put it on the route, after authentication:
 * `app.get('/api/dashboard', cacheResponse({ cache, type: 'dashboard' }), handler)`.
 * Options are validated here, when the route is declared.
 */
export function cacheResponse(options: ExpressCacheOptions): RequestHandler {
  const responses = new ResponseCache<Request>(options)
  const route = responses.route(options)
  return function cachetResponse(req: Request, res: Response, next: NextFunction) {
    responses.begin(expressView(req), route).then((decision) => {
      if (decision.action === 'reply') return writeReply(res, decision.reply)
      if (decision.action === 'handle') res.set(decision.headers)
      else captureResponse(res, decision.fill)
      next()
    }, next)
  }
}

/**
 * Binds shared options (engine, getUser, types…) once: `const cached = createCacheResponse({ cache, getUser })`
 * then `app.get('/api/me', cached({ type: 'user', scope: 'user' }), handler)`.
 */
export function createCacheResponse(
  shared: ResponseCacheOptions<Request>,
): (route: RouteCacheOptions<Request>) => RequestHandler {
  return (route) => cacheResponse({ ...shared, ...route })
}

/** The router's view of an Express request: the matched route pattern, decoded params, parsed query. */
export function expressView(req: Request): RequestView<Request> {
  // req.route is set when the middleware sits on a route; mounted with app.use it falls back to the routed path.
  const pattern = req.route ? `${req.baseUrl}${String(req.route.path)}` : `${req.baseUrl}${req.path}`
  return {
    request: req,
    method: req.method,
    // req.host honours Express's 'trust proxy' setting, as the handler's view of the host does.
    host: req.host ?? '',
    route: pattern,
    params: req.params,
    query: req.query,
    headers: req.headers,
  }
}
