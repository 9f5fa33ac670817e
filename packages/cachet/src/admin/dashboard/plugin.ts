import { readFileSync } from 'node:fs'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { readVendorAsset } from './vendor.js'

/** Options of the dashboard plugin. */
export interface DashboardOptions {
  /** Where the admin API is mounted; the page calls it. @default '/api/cache' */
  apiPrefix?: string
  /** Fastify's register prefix; the page's assets are linked under it. @default '/cache' */
  prefix?: string
}

/** No inline script or style, so the strictest self-only policy holds (docs/reliability.md S14). */
export const DASHBOARD_CSP =
  "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"

const PATH_PATTERN = /^(\/[A-Za-z0-9._~-]+)*$/

function asset(name: string): string {
  return readFileSync(new URL(name, import.meta.url), 'utf8')
}

/**
 * Serves the admin dashboard: one static page plus app.js, app.css, its icon and the
 * chart library.
 * Register it with `{ prefix: '/cache' }`.
 */
export const dashboardPlugin: FastifyPluginAsync<DashboardOptions> = async (app, options) => {
  const base = options.prefix ?? '/cache'
  const apiPrefix = options.apiPrefix ?? '/api/cache'
  // Both end up inside the HTML; accepting only plain path segments keeps them from breaking out of it.
  for (const [name, value] of Object.entries({ prefix: base, apiPrefix })) {
    if (!PATH_PATTERN.test(value)) throw new Error(`dashboard ${name} must be a plain path, got ${value}`)
  }
  const html = asset('./index.html').replaceAll('%BASE%', base).replaceAll('%API%', apiPrefix)
  const js = asset('./app.js')
  const charts = asset('./charts.js')
  const css = asset('./app.css')
  const icon = asset('./favicon.svg')
  const chartJs = readVendorAsset('uPlot.iife.min.js')
  const chartCss = readVendorAsset('uPlot.min.css')

  const send = (reply: FastifyReply, type: string, body: string) =>
    reply
      .header('content-type', type)
      .header('content-security-policy', DASHBOARD_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      // The page holds no data (everything comes from the API), but keep it fresh across upgrades.
      .header('cache-control', 'no-cache')
      .send(body)

  app.get('/', async (_request, reply) => send(reply, 'text/html; charset=utf-8', html))
  app.get('/app.js', async (_request, reply) => send(reply, 'text/javascript; charset=utf-8', js))
  app.get('/charts.js', async (_request, reply) => send(reply, 'text/javascript; charset=utf-8', charts))
  app.get('/app.css', async (_request, reply) => send(reply, 'text/css; charset=utf-8', css))
  app.get('/vendor/uplot.js', async (_request, reply) =>
    send(reply, 'text/javascript; charset=utf-8', chartJs),
  )
  app.get('/vendor/uplot.css', async (_request, reply) => send(reply, 'text/css; charset=utf-8', chartCss))
  app.get('/favicon.svg', async (_request, reply) => send(reply, 'image/svg+xml', icon))
}
