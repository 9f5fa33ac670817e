import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { type AdminContext, audited } from '../context.js'
import { formatDuration, HttpError, ok } from '../responses.js'
import { parse } from '../schemas.js'
import type { WarmupJob, WarmupJobState } from '../warmup.js'
import { readWarmupStatus } from '../warmup-status.js'

const HEARTBEAT_MS = 15_000

function summary(state: WarmupJobState) {
  return {
    modulesWarmed: state.modulesWarmed,
    keysCreated: state.keysCreated,
    duration: formatDuration(state.durationMs),
    errors: state.errors,
  }
}

function findJob(ctx: AdminContext, params: unknown): WarmupJob {
  const { jobId } = parse(ctx.schemas.jobParams, params, 'params')
  const job = ctx.warmers.job(jobId)
  if (!job) throw new HttpError(404, 'E_NOT_FOUND', 'params.jobId: no such warm-up job')
  return job
}

/** Server-sent events of one job: `state` first, then `progress`, `module`, and `done` before the stream ends. */
function eventStream(job: WarmupJob): PassThrough {
  const stream = new PassThrough()
  const send = (event: string, data: unknown) =>
    stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  const state = job.state()
  send('state', state)
  if (state.status !== 'running') {
    send('done', state)
    stream.end()
    return stream
  }
  const onProgress = (data: unknown) => send('progress', data)
  const onModule = (data: unknown) => send('module', data)
  const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), HEARTBEAT_MS)
  const cleanup = () => {
    clearInterval(heartbeat)
    job.events.off('progress', onProgress)
    job.events.off('module', onModule)
    job.events.off('done', onDone)
  }
  const onDone = (final: WarmupJobState) => {
    send('done', final)
    cleanup()
    stream.end()
  }
  job.events.on('progress', onProgress)
  job.events.on('module', onModule)
  job.events.on('done', onDone)
  stream.on('close', cleanup)
  return stream
}

/**
 * POST /warmup: runs registered warmers; waits and answers the original warm-up stats, or with
 * `wait: false` answers 202 and a job to follow: GET /warmup/:jobId (state) or
 * GET /warmup/:jobId/events (SSE). GET /warmup lists modules, the last run of any instance (kept in
 * Redis) and this instance's recent jobs.
 */
export function registerWarmupRoutes(app: FastifyInstance, ctx: AdminContext): void {
  app.post('/warmup', { config: { access: 'admin' } }, async (request, reply) => {
    const result = await audited(ctx, request, 'warmup', async () => {
      const body = parse(ctx.schemas.warmup, request.body, 'body')
      // Overwriting entries (force) is destructive: it fails closed like a clear.
      if (body.force) await ctx.audit.ensureWritable()
      const job = ctx.warmers.start(ctx.cache, {
        modules: body.modules,
        force: body.force ?? false,
        timeoutMs: ctx.limits.warmupTimeoutMs,
      })
      const links = { self: `warmup/${job.id}`, events: `warmup/${job.id}/events` }
      if (body.wait === false) {
        return {
          status: 202,
          keysAffected: 0,
          body: ok({ message: 'Cache warmup started', data: { jobId: job.id, status: 'running', links } }),
        }
      }
      const final = await job.done
      return {
        keysAffected: final.keysCreated,
        body: ok({
          message:
            final.modules.length === 0
              ? 'No warm-up modules registered'
              : final.errors > 0
                ? `Cache warmup completed with ${final.errors} error(s)`
                : 'Cache warmup completed',
          stats: summary(final),
          details: { jobId: job.id, status: final.status, results: final.results, links },
        }),
      }
    })
    reply.code(result.status ?? 200)
    return result.body
  })

  // `status`: the last run of any instance sharing the Redis (seed 004's cache:warmup:status); `jobs`:
  // this instance's recent runs.
  app.get('/warmup', { config: { access: 'read' } }, async () =>
    ok({
      data: {
        modules: ctx.warmers.modules(),
        status: await readWarmupStatus(ctx.cache),
        jobs: ctx.warmers.jobs().map((job) => job.state()),
      },
    }),
  )

  app.get('/warmup/:jobId', { config: { access: 'read' } }, async (request) => {
    const state = findJob(ctx, request.params).state()
    return ok({ data: state, stats: summary(state) })
  })

  app.get('/warmup/:jobId/events', { config: { access: 'read' } }, async (request, reply) => {
    const job = findJob(ctx, request.params)
    reply.header('content-type', 'text/event-stream; charset=utf-8').header('x-accel-buffering', 'no')
    return reply.send(eventStream(job))
  })
}
