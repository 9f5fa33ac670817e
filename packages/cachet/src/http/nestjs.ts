import type { CallHandler, DynamicModule, ExecutionContext, NestInterceptor } from '@nestjs/common'
import type { Request, Response } from 'express'
import type { Observable } from 'rxjs'
import { requirePeer } from '../core/peer.js'
import { InvalidOptionError } from '../index.js'
import { expressView } from './express.js'
import { captureResponse, replayOnEnd } from './node-response.js'
import type { ResolvedRoute, ResponseCacheOptions, RouteCacheOptions } from './options.js'
import { ResponseCache } from './response-cache.js'

export { invalidatePattern, invalidateTags, invalidateType, invalidateUser } from './invalidate.js'
export {
  CACHET_CACHE_SERVICE_OPTIONS,
  CacheService,
  CacheServiceModule,
  type CacheServiceOptions,
  type HealthStatus,
  type InvalidateOptions,
  type InvalidateResult,
  type KeyInfo,
  type KeyListResult,
  type MemoryInfo,
  SEED_TTL_STRATEGY,
  type WarmupResult,
} from './nest-cache-service.js'
export type { CacheScope, ResponseCacheOptions, RouteCacheOptions } from './options.js'

const { applyDecorators, Inject, Injectable, Module, SetMetadata, UseInterceptors } = requirePeer<
  typeof import('@nestjs/common')
>('@nestjs/common', 'cachet/nestjs')
const { of } = requirePeer<typeof import('rxjs')>('rxjs', 'cachet/nestjs')

/** Injection token of the shared ResponseCache that CachetModule provides. */
export const CACHET_RESPONSE_CACHE = Symbol.for('cachet:response-cache')
/** Injection token of the engine (the `cache` given to CachetModule.forRoot). */
export const CACHET_CACHE = Symbol.for('cachet:cache')
const ROUTE_OPTIONS = 'cachet:cache-response'

/** Options of CachetModule.forRoot(): the engine and settings shared by every @CacheResponse route. */
export type NestCacheOptions = ResponseCacheOptions<Request>

/**
 * Global module: `CachetModule.forRoot({ cache, getUser })` once in the root module,
 * then `@CacheResponse({ type: 'dashboard' })` on any GET handler. Supports @nestjs/platform-express.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest module is a class; forRoot is the convention.
export class CachetModule {
  /** Registers the engine and the shared response cache for the whole application. */
  static forRoot(options: NestCacheOptions): DynamicModule {
    const responses = new ResponseCache<Request>(options)
    return {
      module: CachetModule,
      global: true,
      providers: [
        { provide: CACHET_RESPONSE_CACHE, useValue: responses },
        { provide: CACHET_CACHE, useValue: options.cache },
      ],
      exports: [CACHET_RESPONSE_CACHE, CACHET_CACHE],
    }
  }
}
Module({})(CachetModule)

/**
 * Caches a handler's responses. It runs as an interceptor, so after guards (authentication): the
 * principal getUser reads is already verified.
 */
export function CacheResponse(options: RouteCacheOptions<Request>): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(ROUTE_OPTIONS, options), UseInterceptors(CacheResponseInterceptor))
}

/** The interceptor behind @CacheResponse; usable directly with UseInterceptors plus SetMetadata. */
export class CacheResponseInterceptor implements NestInterceptor {
  // Route options are validated once per handler, on its first request.
  readonly #routes = new WeakMap<object, ResolvedRoute<Request>>()

  constructor(private readonly responses: ResponseCache<Request>) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const handler = context.getHandler()
    const options = Reflect.getMetadata(ROUTE_OPTIONS, handler) as RouteCacheOptions<Request> | undefined
    if (context.getType() !== 'http' || !options) return next.handle()
    const http = context.switchToHttp()
    const req = http.getRequest<Request>()
    const res = http.getResponse<Response>()
    if (typeof res.setHeader !== 'function' || typeof res.end !== 'function') {
      throw new InvalidOptionError(
        'cachet/nestjs needs @nestjs/platform-express; on Fastify use cachet/fastify',
      )
    }
    let route = this.#routes.get(handler)
    if (!route) {
      route = this.responses.route(options)
      this.#routes.set(handler, route)
    }
    const decision = await this.responses.begin(expressView(req), route)
    if (decision.action === 'reply') {
      // Nest writes the interceptor's result itself; the cached bytes replace whatever it sends.
      replayOnEnd(res, decision.reply)
      return of(null)
    }
    if (decision.action === 'handle') res.set(decision.headers)
    else captureResponse(res, decision.fill)
    return next.handle()
  }
}
Injectable()(CacheResponseInterceptor)
// No emitDecoratorMetadata: the constructor's dependency is declared explicitly.
Inject(CACHET_RESPONSE_CACHE)(CacheResponseInterceptor, undefined, 0)
