import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { startRedis, type TestRedis } from './redis-server.js'

const run = promisify(execFile)

/** A Redis Cluster of private redis-server processes on free loopback ports (masters only). */
export interface TestCluster {
  nodes: TestRedis[]
  /** Startup nodes for ioredis / createCache({ redis: { cluster } }). */
  startupNodes: Array<{ host: string; port: number }>
  stop(): Promise<void>
}

/** Starts `masters` cluster-enabled servers, joins them with redis-cli, and waits for cluster_state:ok. */
export async function startRedisCluster(masters = 3): Promise<TestCluster> {
  const nodes = await Promise.all(
    Array.from({ length: masters }, () =>
      startRedis(['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000']),
    ),
  )
  await run('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((node) => `127.0.0.1:${node.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ])
  for (const node of nodes) {
    for (;;) {
      const { stdout } = await run('redis-cli', ['-p', String(node.port), 'CLUSTER', 'INFO'])
      if (stdout.includes('cluster_state:ok')) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()))
    },
  }
}
