import type { AddressInfo } from 'node:net'
import express, { type Request } from 'express'
import { createCacheResponse } from '../../src/http/express.js'
import { authenticate, type BuildApp, delay, fetchHarness, getUser } from './harness.js'

/** The contract's app on Express, over a loopback socket. */
export const buildExpressApp: BuildApp = async ({ cache, routes, options }) => {
  const app = express()
  app.use((req, res, next) => {
    const auth = authenticate(req.headers.authorization)
    if (auth.refused) return void res.status(401).json({ error: 'unauthorized' })
    ;(req as Request & { user?: string }).user = auth.user
    next()
  })
  const cached = createCacheResponse({ cache, getUser, ...options })
  for (const route of routes) {
    app.get(route.path, cached(route.cache), async (req, res, next) => {
      try {
        const result = route.handle({
          params: req.params as Record<string, string>,
          query: req.query as Record<string, unknown>,
          headers: req.headers,
          user: (req as Request & { user?: string }).user,
        })
        if (result.delayMs) await delay(result.delayMs)
        if (result.throws) throw new Error('handler failed')
        res.status(result.status ?? 200).set(result.headers ?? {})
        if (result.stream) {
          res.write(String(result.body))
          return void res.end()
        }
        if (typeof result.body === 'string') res.send(result.body)
        else res.json(result.body)
      } catch (error) {
        next(error)
      }
    })
    app.post(route.path, (_req, res) => void res.json({ posted: true }))
  }
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  return fetchHarness(`http://127.0.0.1:${port}`, async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
}
