import type { Cluster } from 'ioredis'
import { valueWithin } from '../../core/timeouts.js'

/** What the masters of a Redis Cluster say about the cluster, asked each in turn. */
export interface ClusterState {
  /** Masters asked (the slot table ioredis holds now). */
  masters: number
  /** Masters that did not answer within the deadline. */
  silent: number
  /** Masters answering `cluster_state:fail`: they refuse every command with CLUSTERDOWN. */
  failing: number
}

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
