import type { Redis } from 'ioredis'

/**
 * Makes the commands one event-loop tick issues leave in one socket write. A socket write is a system
 * call, and on the client it costs more than the command itself; under concurrency, the continuations
 * of a batch of replies all run in the same tick and each sends its next command. Corking the socket at
 * the first command and uncorking it once the tick's promise jobs are done sends them together, in the
 * order they were issued (unlike ioredis auto-pipelining, which defers single commands but not explicit
 * pipelines, and so can reorder a write and an invalidation).
 */
export function corkPerTick(client: Redis): void {
  const send = client.sendCommand.bind(client)
  let corked = false
  client.sendCommand = ((command, stream) => {
    const socket = client.stream
    if (!corked && socket && client.status === 'ready') {
      corked = true
      socket.cork()
      process.nextTick(() => {
        corked = false
        socket.uncork()
      })
    }
    return send(command, stream)
  }) as Redis['sendCommand']
}
