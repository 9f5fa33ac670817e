import type { Cluster } from 'ioredis'
import { valueWithin } from '../../core/timeouts.js'
import type { ClusterState } from '../../core/types.js'

/**
 * CLUSTER INFO on every master. A PING answered by one node says nothing of the others: while the
 * cluster is down (a shard without a master), every node still answers PING but refuses reads and
 * writes with CLUSTERDOWN (docs/scale.md).
 */
export async function readClusterState(cluster: Cluster, timeoutMs: number): Promise<ClusterState> {
  const masters = cluster.nodes('master')
  const replies = await Promise.all(
    masters.map((node) => valueWithin(node.call('CLUSTER', 'INFO') as Promise<string>, timeoutMs)),
  )
  return {
    masters: masters.length,
    silent: replies.filter((reply) => reply === undefined).length,
    failing: replies.filter((reply) => reply?.includes('cluster_state:fail')).length,
  }
}
