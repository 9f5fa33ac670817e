/**
 * Fastify with cachet response caching: `npx tsx examples/fastify-app.ts` (REDIS_URL, default local).
 * Try: curl -i localhost:3000/api/dashboard (twice), curl -i -H 'Authorization: Bearer 42' localhost:3000/api/me
 */

import { createCache } from 'cachet'
import { fastifyCache, invalidateType } from 'cachet/fastify'
import Fastify, { type FastifyRequest } from 'fastify'

const cache = createCache({ redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' })
const app = Fastify({ logger: true })

// Authentication first: the cache reads the principal this hook verified (a demo stand-in for JWT checks).
app.decorateRequest('userId', undefined)
app.addHook('onRequest', async (request) => {
  const token = request.headers.authorization?.replace(/^Bearer /, '')
  ;(request as FastifyRequest & { userId?: string }).userId = token || undefined
})

await app.register(fastifyCache, {
  cache,
  getUser: (request) => (request as FastifyRequest & { userId?: string }).userId,
})

app.get('/api/dashboard', { config: { cache: { type: 'dashboard' } } }, async () => {
  await new Promise((resolve) => setTimeout(resolve, 500)) // the slow queries the cache saves
  return { logs: 1234, errors: 5, at: new Date().toISOString() }
})
app.get('/api/search', { config: { cache: { type: 'search', query: ['q', 'page'] } } }, async (request) => ({
  query: request.query,
}))
app.get('/api/me', { config: { cache: { type: 'user', scope: 'user' } } }, async (request) => ({
  user: (request as FastifyRequest & { userId?: string }).userId,
}))
app.post('/api/upload', async () => ({ invalidated: await invalidateType(cache, 'dashboard') }))

app.addHook('onClose', () => cache.close())
await app.listen({ port: Number(process.env.PORT ?? 3000) })
