import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Controller, Get, HttpException, Module, Post, Req, Res, StreamableFile } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import type { NestExpressApplication } from '@nestjs/platform-express'
import type { NextFunction, Request, Response } from 'express'
import { CacheResponse, CachetModule } from '../../src/http/nestjs.js'
import { authenticate, type BuildApp, delay, fetchHarness, getUser, type TestRoute } from './harness.js'

/** A controller built without decorator syntax (the project compiles without experimentalDecorators). */
function controllerFor(route: TestRoute): new () => unknown {
  class RouteController {
    async get(req: Request & { user?: string }, res: Response) {
      const result = route.handle({
        params: req.params as Record<string, string>,
        query: req.query as Record<string, unknown>,
        headers: req.headers,
        user: req.user,
      })
      if (result.delayMs) await delay(result.delayMs)
      if (result.throws) throw new Error('handler failed')
      if ((result.status ?? 200) >= 400) throw new HttpException(result.body as object, result.status!)
      res.set(result.headers ?? {})
      if (result.stream) return new StreamableFile(Readable.from([Buffer.from(String(result.body))]))
      return result.body
    }
    post() {
      return { posted: true }
    }
  }
  const proto = RouteController.prototype
  Req()(proto, 'get', 0)
  Res({ passthrough: true })(proto, 'get', 1)
  Reflect.decorate(
    [Get(route.path), CacheResponse(route.cache)],
    proto,
    'get',
    Object.getOwnPropertyDescriptor(proto, 'get'),
  )
  Reflect.decorate([Post(route.path)], proto, 'post', Object.getOwnPropertyDescriptor(proto, 'post'))
  Reflect.decorate([Controller()], RouteController)
  return RouteController
}

/** The contract's app on NestJS (platform-express), over a loopback socket. */
export const buildNestApp: BuildApp = async ({ cache, routes, options }) => {
  class AppModule {}
  Reflect.decorate(
    [
      Module({
        imports: [CachetModule.forRoot({ cache, getUser, ...options })],
        controllers: routes.map(controllerFor),
      }),
    ],
    AppModule,
  )
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false })
  app.use((req: Request & { user?: string }, res: Response, next: NextFunction) => {
    const auth = authenticate(req.headers.authorization)
    if (auth.refused) return void res.status(401).json({ error: 'unauthorized' })
    req.user = auth.user
    next()
  })
  await app.listen(0, '127.0.0.1')
  const { port } = app.getHttpServer().address() as AddressInfo
  return fetchHarness(`http://127.0.0.1:${port}`, async () => {
    app.getHttpServer().closeAllConnections()
    await app.close()
  })
}
