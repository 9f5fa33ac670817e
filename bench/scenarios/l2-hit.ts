import { bento, cacheManager, cachet, rawClient, settled, TTL_MS } from '../contenders.js'
import { profileValue } from '../fixtures.js'
import { compare, plan } from '../harness.js'
import { cachetNote, goal, type ScenarioResult, throughputRows } from '../report.js'

/**
 * Distinct keys, read round-robin: 64 calls in flight are 64 different keys, so no contender's
 * single-flight (request coalescing) can turn them into one Redis read.
 */
const KEYS = 1_000

/** 2. L2 hit with L1 off, 1 KB JSON value: 64 in flight and one at a time. */
export async function l2Hit(port: number): Promise<ScenarioResult> {
  const keys = Array.from({ length: KEYS }, (_, i) => `user:${i}`)
  const rawKeys = keys.map((key) => `raw:${key}`)
  const loader = () => profileValue()
  let n = 0
  const next = () => {
    n = n + 1 === KEYS ? 0 : n + 1
    return n
  }
  const raw = rawClient(port)
  const cache = cachet(port, { l1: false })
  const bentoCache = bento(port, { l1: false, l2: true })
  const managerClient = rawClient(port)
  const manager = cacheManager(managerClient)
  try {
    const json = JSON.stringify(profileValue())
    for (let i = 0; i < KEYS; i++) {
      await raw.set(rawKeys[i]!, json, 'PX', TTL_MS)
      await cache.getOrSet(keys[i]!, loader)
      await bentoCache.getOrSet({ key: keys[i]!, factory: loader })
      await manager.wrap(keys[i]!, loader)
    }
    // cachet writes L2 in the background: wait until every write landed.
    await settled(cache)

    const contenders = [
      {
        name: 'raw limit: ioredis GET + JSON.parse',
        op: async () => JSON.parse((await raw.get(rawKeys[next()]!))!),
      },
      { name: 'cachet getOrSet (l1: false)', op: () => cache.getOrSet(keys[next()]!, loader) },
      {
        name: 'bentocache getOrSet (redis only)',
        op: () => bentoCache.getOrSet({ key: keys[next()]!, factory: loader }),
      },
      { name: 'cache-manager wrap (Keyv on ioredis)', op: () => manager.wrap(keys[next()]!, loader) },
    ]
    cache.resetStats()
    const concurrentRun = await compare(contenders, plan(64))
    const concurrent = throughputRows(concurrentRun, contenders[0]!.name, {
      [contenders[1]!.name]: cachetNote(cache.stats()),
    })
    cache.resetStats()
    const serialRun = await compare(contenders, plan(1))
    const serial = throughputRows(serialRun, contenders[0]!.name, {
      [contenders[1]!.name]: cachetNote(cache.stats()),
    })
    return {
      id: 'l2-hit',
      title: '2. L2 hit with L1 off, 1 KB JSON value',
      tables: [
        { title: '64 in flight', ratioOf: 'ops/s ÷ raw limit', rows: concurrent },
        { title: 'one at a time', ratioOf: 'ops/s ÷ raw limit', rows: serial },
      ],
      goals: [
        goal('L2 hit, 64 in flight', concurrent[1]!.ratio, '>=', 0.8),
        goal('L2 hit, one at a time', serial[1]!.ratio, '>=', 0.95),
      ],
    }
  } finally {
    await cache.close()
    await bentoCache.disconnect()
    await manager.disconnect()
    raw.disconnect()
    managerClient.disconnect()
  }
}
