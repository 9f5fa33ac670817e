import { bareLru, bento, cacheManager, cachet } from '../contenders.js'
import { profileValue } from '../fixtures.js'
import { compare, plan } from '../harness.js'
import { goal, type ScenarioResult, throughputRows } from '../report.js'

/** 1. L1 hit, 1 KB value, awaited one at a time. */
export async function l1Hit(port: number): Promise<ScenarioResult> {
  const key = 'user:1'
  const loader = () => profileValue()
  const bare = bareLru()
  const cache = cachet(false)
  // The same hit with Redis as L2 and L1 kept coherent by Redis tracking + the bus (the defaults).
  const tracked = cachet(port)
  const bentoCache = bento(port, { l1: true, l2: true })
  const manager = cacheManager()
  try {
    await bare(key, loader)
    await cache.getOrSet(key, loader)
    await tracked.getOrSet(key, loader)
    await bentoCache.getOrSet({ key, factory: loader })
    await manager.wrap(key, loader)

    const measured = await compare(
      [
        { name: 'raw limit: async getOrSet over lru-cache', op: () => bare(key, loader) },
        { name: 'cachet getOrSet', op: () => cache.getOrSet(key, loader) },
        { name: 'cachet getOrSet, with Redis (tracking + bus)', op: () => tracked.getOrSet(key, loader) },
        {
          name: 'bentocache getOrSet (memory + redis)',
          op: () => bentoCache.getOrSet({ key, factory: loader }),
        },
        { name: 'cache-manager wrap (Keyv in memory)', op: () => manager.wrap(key, loader) },
      ],
      plan(1, { sampleMs: 300 }),
    )
    const rows = throughputRows(measured, measured[0]!.name, {
      'cachet getOrSet, with Redis (tracking + bus)': 'informative: the same L1 hit, Redis as L2 (defaults)',
    })
    return {
      id: 'l1-hit',
      title: '1. L1 hit, 1 KB value, awaited one at a time',
      tables: [{ title: 'one at a time', ratioOf: 'ops/s ÷ raw limit', rows }],
      goals: [goal('L1 hit, one at a time', rows[1]!.ratio, '>=', 0.4)],
    }
  } finally {
    await cache.close()
    await tracked.close()
    await bentoCache.disconnect()
    await manager.disconnect()
  }
}
