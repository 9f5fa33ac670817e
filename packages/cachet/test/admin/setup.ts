import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { SignJWT } from 'jose'
import {
  type AdminOptions,
  adminPlugin,
  createWarmupRegistry,
  type WarmupRegistry,
} from '../../src/admin/index.js'
import type { CacheApi } from '../../src/core/cache-api.js'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

/** The static admin token of the test apps. */
export const TOKEN = 'test-admin-token-0123456789abcdef'
/** The HS256 secret of the test apps. */
export const JWT_SECRET = 'test-jwt-secret-that-is-long-enough-0123456789'
/** The audience admin JWTs of the test apps are issued for. */
export const JWT_AUDIENCE = 'cachet-admin-tests'
/** Headers of an authorised admin call. */
export const ADMIN = { authorization: `Bearer ${TOKEN}` }

/** A running admin app on a private redis-server. */
export interface AdminHarness {
  app: FastifyInstance
  cache: CacheApi
  redis: TestRedis
  /** A plain client for seeding and checking Redis directly. */
  client: Redis
  warmers: WarmupRegistry
  /** Every route the plugin registered, as 'METHOD /url' (HEAD routes included). */
  routes: string[]
  close(): Promise<void>
}

/** A plain ioredis client with bounded waits (RELIABILITY B.8): never queues while disconnected. */
export function plainClient(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    enableOfflineQueue: false,
    retryStrategy: () => 200,
  })
}

async function ready(client: Redis): Promise<void> {
  if (client.status === 'ready') return
  await new Promise<void>((resolve) => client.once('ready', () => resolve()))
}

/** Starts redis-server, an engine with prefix 'cache', and a Fastify app with the admin plugin at /api/cache. */
export async function startAdmin(options: Partial<AdminOptions> = {}): Promise<AdminHarness> {
  const redis = await startRedis()
  // Deadlines of seconds: a read that merely runs late on a starved machine is not a Redis failure.
  const cache = createCache({
    redis: redis.url,
    prefix: 'cache',
    logger: false,
    l1: false,
    bus: false,
    l2: RELAXED_L2,
  })
  const client = plainClient(redis.url)
  await ready(client)
  const warmers = options.warmers ?? createWarmupRegistry()
  const app = Fastify({ logger: false })
  const routes: string[] = []
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`)
  })
  await app.register(adminPlugin, {
    prefix: '/api/cache',
    cache,
    tokens: [TOKEN],
    jwt: { secret: JWT_SECRET, audience: JWT_AUDIENCE },
    redis: client,
    warmers,
    ...options,
  })
  await app.ready()
  return {
    app,
    cache,
    redis,
    client,
    warmers,
    routes,
    async close() {
      await app.close()
      await cache.close()
      client.disconnect()
      await redis.stop()
    },
  }
}

/** An HS256 JWT for the test audience, signed with `secret`, with the given claims, valid for `expiresIn`. */
export function signJwt(
  claims: Record<string, unknown>,
  options: { secret?: string; expiresIn?: string | number; issuedAt?: number } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(claims.sub ?? 'alice'))
    .setAudience(JWT_AUDIENCE)
    .setIssuedAt(options.issuedAt)
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET))
}

/** Audit records currently in the stream, oldest first. */
export async function auditRecords(client: Redis, streamKey = 'cache:__audit') {
  const entries = await client.xrange(streamKey, '-', '+')
  return entries.map(([, fields]) => JSON.parse(fields[1]!) as Record<string, unknown>)
}

/** Seeds `count` entries `${namespace}:${i}` through the engine. */
export async function seed(cache: CacheApi, namespace: string, count: number, tags: string[] = []) {
  await cache.setMany(
    Array.from({ length: count }, (_, i) => ({ key: `${namespace}:${i}`, value: { namespace, i }, tags })),
  )
}
