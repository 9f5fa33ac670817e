import type { Cluster, Redis } from 'ioredis'

/** One command: its ioredis method name (a script name or e.g. 'getBuffer' works too), then arguments. */
export type Op = [name: string, ...args: Array<string | Buffer | number>]

/**
 * Runs groups of commands, each group only after the previous one. On a single node every group goes
 * into one pipeline (one round trip; Redis runs it in order, so the ordering holds). On a Cluster a
 * pipeline cannot span slots, so each command is sent on its own (ioredis routes it; commands issued
 * in the same tick share the socket write) and the groups are awaited in turn.
 * Resolves the results of each group; rejects with the first command error.
 */
export async function runPhases(
  client: Redis | Cluster,
  isCluster: boolean,
  phases: Op[][],
): Promise<unknown[][]> {
  if (!isCluster) {
    const all = phases.flat()
    if (all.length === 0) return phases.map(() => [])
    const replies = await (client as Redis).pipeline(all).exec()
    const flat = (replies ?? []).map(([error, value]) => {
      if (error) throw error
      return value
    })
    const out: unknown[][] = []
    let offset = 0
    for (const phase of phases) {
      out.push(flat.slice(offset, offset + phase.length))
      offset += phase.length
    }
    return out
  }
  const out: unknown[][] = []
  for (const phase of phases) {
    out.push(await Promise.all(phase.map((op) => send(client, op))))
  }
  return out
}

/** runPhases with a single group. */
export async function runBatch(client: Redis | Cluster, isCluster: boolean, ops: Op[]): Promise<unknown[]> {
  const [results] = await runPhases(client, isCluster, [ops])
  return results!
}

function send(client: Redis | Cluster, [name, ...args]: Op): Promise<unknown> {
  const method = (client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]
  if (typeof method !== 'function') return Promise.reject(new Error(`unknown Redis command ${name}`))
  return method.apply(client, args)
}
