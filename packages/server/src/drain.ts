import type { FastifyInstance } from 'fastify'

/**
 * Makes app.close() finish once in-flight requests are answered. Node closes the keep-alive
 * connections that are idle when close() starts, but a connection busy at that moment would stay open
 * after its response; answering it with `Connection: close` ends it. After `deadlineMs` every
 * remaining connection is dropped, so a stuck client cannot hold the shutdown forever.
 */
export function drainOnClose(app: FastifyInstance, deadlineMs = 10_000): void {
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    const timer = setTimeout(() => app.server.closeAllConnections(), deadlineMs)
    timer.unref()
    app.server.once('close', () => clearTimeout(timer))
  })
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close')
  })
}
