/**
 * Express with cachet response caching: `npx tsx examples/express-app.ts` (REDIS_URL, default local).
 * Try: curl -i localhost:3000/api/dashboard (twice), curl -i -H 'Authorization: Bearer 42' localhost:3000/api/me
 */

import { createCache } from 'cachet'
import { cacheResponse, createCacheResponse, invalidateType } from 'cachet/express'
import express, { type Request } from 'express'

const cache = createCache({ redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' })
const app = express()

// Authentication first: the cache reads the principal this middleware verified (a demo stand-in for JWT checks).
app.use((req: Request & { userId?: string }, _res, next) => {
  req.userId = req.headers.authorization?.replace(/^Bearer /, '') || undefined
  next()
})

app.get('/api/dashboard', cacheResponse({ cache, type: 'dashboard' }), async (_req, res) => {
  await new Promise((resolve) => setTimeout(resolve, 500)) // the slow queries the cache saves
  res.json({ logs: 1234, errors: 5, at: new Date().toISOString() })
})

// Shared options once, route options per route.
const cached = createCacheResponse({ cache, getUser: (req) => (req as Request & { userId?: string }).userId })
app.get('/api/me', cached({ type: 'user', scope: 'user' }), (req: Request & { userId?: string }, res) => {
  res.json({ user: req.userId })
})
app.get('/api/search', cached({ type: 'search', query: ['q'] }), (req, res) => {
  res.json({ q: req.query.q })
})
app.post('/api/upload', async (_req, res) => {
  res.json({ invalidated: await invalidateType(cache, 'dashboard') })
})

app.listen(Number(process.env.PORT ?? 3000))
