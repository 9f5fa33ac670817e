import type { FastifyInstance, FastifyRequest } from 'fastify'

const started = new WeakMap<FastifyRequest, bigint>()

/**
 * Adds `Server-Timing: app;dur=<ms>` to every response: the time from the request's arrival to its
 * answer, measured inside the server, so a client (or a test) can compare a MISS with a HIT without
 * network noise.
 */
export function addServerTiming(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    started.set(request, process.hrtime.bigint())
  })
  app.addHook('onSend', async (request, reply) => {
    const start = started.get(request)
    if (start === undefined) return
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    reply.header('server-timing', `app;dur=${ms.toFixed(3)}`)
  })
}
