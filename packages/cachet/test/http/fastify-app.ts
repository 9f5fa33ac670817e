import { Readable } from 'node:stream'
import Fastify, { type FastifyRequest } from 'fastify'
import { fastifyCache } from '../../src/http/fastify.js'
import { authenticate, type BuildApp, delay, getUser } from './harness.js'

/** The contract's app on Fastify, driven by inject (no socket). */
export const buildFastifyApp: BuildApp = async ({ cache, routes, options }) => {
  const app = Fastify()
  app.decorateRequest('user', undefined)
  app.addHook('onRequest', async (request, reply) => {
    const auth = authenticate(request.headers.authorization)
    if (auth.refused) return reply.code(401).send({ error: 'unauthorized' })
    ;(request as FastifyRequest & { user?: string }).user = auth.user
  })
  await app.register(fastifyCache, { cache, getUser, ...options })
  for (const route of routes) {
    app.get(route.path, { config: { cache: route.cache } }, async (request, reply) => {
      const result = route.handle({
        params: request.params as Record<string, string>,
        query: request.query as Record<string, unknown>,
        headers: request.headers,
        user: (request as FastifyRequest & { user?: string }).user,
      })
      if (result.delayMs) await delay(result.delayMs)
      if (result.throws) throw new Error('handler failed')
      reply.code(result.status ?? 200).headers(result.headers ?? {})
      if (result.stream) return Readable.from([String(result.body)])
      return result.body
    })
    app.post(route.path, async () => ({ posted: true }))
  }
  await app.ready()
  return {
    async request(path, init = {}) {
      const response = await app.inject({
        method: (init.method ?? 'GET') as 'GET',
        url: path,
        headers: init.headers,
      })
      return {
        status: response.statusCode,
        headers: new Headers(response.headers as Record<string, string>),
        body: response.body,
      }
    },
    close: () => app.close(),
  }
}
