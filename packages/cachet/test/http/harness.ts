import { request as httpRequest } from 'node:http'
import type { ResponseCacheOptions, RouteCacheOptions } from '../../src/http/options.js'
import type { CacheApi } from '../../src/index.js'

/** What a test route's handler sees, whatever the framework. */
export interface TestRequest {
  params: Record<string, string>
  query: Record<string, unknown>
  headers: Record<string, string | string[] | undefined>
  /** Set by the test app's auth layer from `Authorization: Bearer <id>`; 'bad' is rejected with 401. */
  user?: string
}

/** What a test route's handler returns; an object body is sent as JSON. */
export interface TestResult {
  status?: number
  headers?: Record<string, string>
  body: unknown
  /** Send the body as a stream (Fastify) / in several writes (Express, NestJS). */
  stream?: boolean
  /** Throw instead of answering. */
  throws?: boolean
  /** Wait this long first (to make concurrent requests overlap). */
  delayMs?: number
}

/** One route of the test app. */
export interface TestRoute {
  path: string
  cache: RouteCacheOptions
  handle: (request: TestRequest) => TestResult
}

/** A response as the client sees it. */
export interface TestResponse {
  status: number
  headers: Headers
  body: string
}

/** A running test app of one framework. */
export interface Harness {
  request(path: string, init?: { method?: string; headers?: Record<string, string> }): Promise<TestResponse>
  close(): Promise<void>
}

/** Adapter-wide options a test adds to `{ cache, getUser }`. */
export type SharedOptions = Omit<ResponseCacheOptions, 'cache' | 'getUser'>

/** Builds the same app (auth + cached routes) on one framework. */
export type BuildApp = (options: {
  cache: CacheApi
  routes: TestRoute[]
  options?: SharedOptions
}) => Promise<Harness>

/** The test apps' getUser: the verified principal their auth layer put on the request. */
export const getUser = (request: object) => (request as { user?: string }).user

/** The test apps' auth layer: `Bearer <id>` authenticates <id>, `Bearer bad` is refused. */
export function authenticate(authorization: string | undefined): { user?: string; refused: boolean } {
  if (!authorization) return { refused: false }
  const token = authorization.replace(/^Bearer /, '')
  return token === 'bad' ? { refused: true } : { user: token, refused: false }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Requests over a real socket (Express, NestJS); node:http, because fetch() cannot set Host. */
export function fetchHarness(baseUrl: string, close: () => Promise<void>): Harness {
  return {
    request(path, init = {}) {
      return new Promise<TestResponse>((resolve, reject) => {
        const sent = httpRequest(baseUrl + path, { method: init.method ?? 'GET', headers: init.headers })
        sent.on('error', reject)
        sent.on('response', (response) => {
          const chunks: Buffer[] = []
          response.on('data', (chunk: Buffer) => chunks.push(chunk))
          response.on('error', reject)
          response.on('end', () => {
            const headers = new Headers()
            for (const [name, value] of Object.entries(response.headers)) {
              for (const one of Array.isArray(value) ? value : [value ?? '']) headers.append(name, one)
            }
            resolve({ status: response.statusCode!, headers, body: Buffer.concat(chunks).toString() })
          })
        })
        sent.end()
      })
    },
    close,
  }
}
