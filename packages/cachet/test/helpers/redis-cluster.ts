import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { startRedis, type TestRedis } from './redis-server.js'

const run = promisify(execFile)

/** A Redis Cluster of private redis-server processes on free loopback ports. */
export interface TestCluster {
  /** Every node, masters first as created (replicas after them, when asked for). */
  nodes: TestRedis[]
  /** Startup nodes for ioredis / createCache({ redis: { cluster } }). */
  startupNodes: Array<{ host: string; port: number }>
  /** The node that serves `key` right now (asks the cluster: it changes after a failover). */
  masterOf(key: string): Promise<TestRedis>
  /** Resolves once every live node reports cluster_state:ok (after a failover, for instance). */
  waitForOk(timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts `masters` cluster-enabled servers (and `replicasPerMaster` replicas of each), joins them with
 * redis-cli, and waits for cluster_state:ok and every replica in sync.
 */
export async function startRedisCluster(masters = 3, replicasPerMaster = 0): Promise<TestCluster> {
  const nodes = await Promise.all(
    Array.from({ length: masters * (1 + replicasPerMaster) }, () =>
      startRedis(['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000']),
    ),
  )
  await run('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((node) => `127.0.0.1:${node.port}`),
    '--cluster-replicas',
    String(replicasPerMaster),
    '--cluster-yes',
  ])
  const alive = new Set(nodes)
  const info = async (node: TestRedis, ...command: string[]) =>
    (await run('redis-cli', ['-p', String(node.port), ...command])).stdout

  const waitForOk = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs
    for (const node of nodes) {
      if (!alive.has(node)) continue
      while (!(await info(node, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error(`cluster not ok on port ${node.port} in ${timeoutMs} ms`)
        await sleep(100)
      }
    }
  }
  await waitForOk()
  if (replicasPerMaster > 0) {
    // A replica that has not finished its first sync cannot take over: wait until each one is linked.
    for (const node of nodes) {
      for (;;) {
        const replication = await info(node, 'INFO', 'replication')
        if (replication.includes('role:master') || replication.includes('master_link_status:up')) break
        await sleep(100)
      }
    }
  }
  // kill() also takes the node out of the ones waitForOk() and masterOf() ask.
  const handles: TestRedis[] = nodes.map((node) => ({
    ...node,
    get pid() {
      return node.pid
    },
    kill: async () => {
      alive.delete(node)
      await node.kill()
    },
  }))
  return {
    nodes: handles,
    startupNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    masterOf: async (key) => {
      const someNode = [...alive][0]!
      const slot = Number((await info(someNode, 'CLUSTER', 'KEYSLOT', key)).trim())
      const port = masterPortOfSlot(await info(someNode, 'CLUSTER', 'NODES'), slot)
      return handles.find((node) => node.port === port)!
    },
    waitForOk,
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()))
    },
  }
}

/**
 * Reads CLUSTER NODES: `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slots…>` per
 * line; the live master whose slot ranges hold `slot`.
 */
function masterPortOfSlot(reply: string, slot: number): number {
  for (const line of reply.split('\n')) {
    const fields = line.trim().split(' ')
    if (fields.length < 9 || !fields[2]!.includes('master') || fields[2]!.includes('fail')) continue
    for (const range of fields.slice(8)) {
      const [start, end = start] = range.split('-').map(Number)
      if (slot >= start! && slot <= end!) return Number(fields[1]!.split('@')[0]!.split(':')[1])
    }
  }
  throw new Error(`no live master for slot ${slot}`)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
