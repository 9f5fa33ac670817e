import type { ServerResponse } from 'node:http'
import type { Fill, Reply } from './response-cache.js'

type End = ServerResponse['end']

/** Writes a reply from the cache (or a replacement for the handler's) onto a Node response. */
export function writeReply(res: ServerResponse, reply: Reply, end: End = res.end): void {
  if (!res.headersSent) {
    for (const name of reply.remove) res.removeHeader(name)
    for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value)
    res.statusCode = reply.status
  }
  ;(end as (chunk?: Buffer) => ServerResponse).call(res, reply.status === 304 ? undefined : reply.body)
}

/**
 * Whatever the framework sends next on `res` is replaced by `reply` (NestJS writes the interceptor's
 * result itself; this lets a cached reply keep its exact bytes, status and headers).
 */
export function replayOnEnd(res: ServerResponse, reply: Reply): void {
  const end = res.end
  res.end = function replay(this: ServerResponse) {
    res.end = end
    writeReply(res, reply, end)
    return this
  } as End
}

/**
 * Captures the response a handler produces with a single end() (Express send/json/end) and hands it
 * to the fill, then sends what the fill returns. A write() before end() means a streamed body, and a
 * body over the fill's maxBodyBytes is too large: both pass through untouched and nothing is stored. A response that closes first releases the waiters.
 */
export function captureResponse(res: ServerResponse, fill: Fill): void {
  const { write, end } = res
  let done = false
  const restore = () => {
    done = true
    res.write = write
    res.end = end
  }
  res.write = function streamed(this: ServerResponse, ...args: unknown[]) {
    restore()
    if (!res.headersSent) setHeaders(res, fill.abort('streamed'))
    else fill.abort('streamed')
    return (write as (...a: unknown[]) => boolean).apply(this, args)
  } as ServerResponse['write']
  res.end = function captured(this: ServerResponse, ...args: unknown[]) {
    restore()
    if (res.headersSent) {
      fill.abort('streamed')
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args)
    }
    const [chunk, encoding] = args
    // An oversized body is sent as it is: no copy, no hash, no encoding.
    if (byteLength(chunk, encoding) > fill.maxBodyBytes) {
      setHeaders(res, fill.abort('body-size'))
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args)
    }
    const body = toBuffer(chunk, encoding)
    fill.complete({ status: res.statusCode, headers: res.getHeaders(), body }).then(
      (reply) => writeReply(res, reply, end),
      () => writeReply(res, { status: res.statusCode, headers: {}, remove: [], body }, end),
    )
    return this
  } as End
  res.once('close', () => {
    if (!done) {
      restore()
      fill.abort('handler-error')
    }
  })
}

function byteLength(chunk: unknown, encoding: unknown): number {
  if (chunk instanceof Uint8Array) return chunk.byteLength
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
  return 0
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk
  if (chunk instanceof Uint8Array) return Buffer.from(chunk)
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
  return Buffer.alloc(0)
}

function setHeaders(res: ServerResponse, headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
}
