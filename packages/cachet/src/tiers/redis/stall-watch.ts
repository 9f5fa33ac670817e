import type { Socket } from 'node:net'
import type { Redis } from 'ioredis'

/**
 * Drops the connection of a client that awaits replies and has received no byte for `timeoutMs` (a
 * frozen server, a half-open connection); ioredis then reconnects. What ioredis' socketTimeout does,
 * without its cost on the hot path: socketTimeout arms a timer and a one-off 'data' listener for every
 * command sent to an idle connection (measured at about 4.6 µs of CPU for a lone GET, a fifth of its
 * cost); here one 'data' listener per socket notes when bytes arrive, and one check every eighth of
 * the timeout compares. A check sees a wait up to one period after it began, so a connection is
 * dropped 0.875 to 1 × `timeoutMs` after its last byte, at most 1.125 × after the wait began. The
 * handshake (ready check, AUTH, SELECT, sent while ioredis says 'connect') is watched too. A check
 * that runs late (the event loop was blocked, so replies may be sitting unread) blames nothing and
 * looks again at the next one. Returns what stops the watch (also stopped when the client ends).
 */
export function watchStalls(client: Redis, timeoutMs: number): () => void {
  const periodMs = Math.max(10, Math.floor(timeoutMs / 8))
  let watched: Socket | undefined
  let lastByte = performance.now()
  let lastCheck = performance.now()
  /** When a check first saw replies awaited, in the current run of checks that saw them. */
  let waitingSince: number | undefined
  const onData = () => {
    lastByte = performance.now()
  }
  const attach = () => {
    const socket = client.stream as Socket | undefined
    if (!socket || socket === watched) return
    watched?.off('data', onData)
    watched = socket
    socket.on('data', onData)
    lastByte = performance.now()
  }
  const check = () => {
    const now = performance.now()
    const late = now - lastCheck > 2 * periodMs
    lastCheck = now
    const talking = client.status === 'ready' || client.status === 'connect'
    if (!talking || client.commandQueue.length === 0) {
      waitingSince = undefined
      return
    }
    if (late) {
      lastByte = now
      return
    }
    waitingSince ??= now
    if (now - Math.max(lastByte, waitingSince) < timeoutMs - periodMs) return
    waitingSince = undefined
    watched?.destroy(new Error(`Socket timeout. Expecting data, but didn't receive any in ${timeoutMs}ms.`))
  }
  client.on('connect', attach)
  attach()
  const timer = setInterval(check, periodMs)
  timer.unref()
  const stop = () => {
    clearInterval(timer)
    watched?.off('data', onData)
    client.off('connect', attach)
  }
  // A client closed while it waits to reconnect never ends: close() stops the watch itself.
  client.once('end', stop)
  return stop
}
