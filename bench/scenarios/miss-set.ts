import { bento, cacheManager, cachet, rawClient, settled, TTL_MS } from '../contenders.js'
import { compare, plan } from '../harness.js'
import { goal, type ScenarioResult, throughputRows } from '../report.js'

/** 3. Miss + set, 64 in flight: every call a distinct cold key, a trivial loader. */
export async function missSet(port: number): Promise<ScenarioResult> {
  const value = { id: 1, name: 'trivial', ok: true }
  const loader = () => value
  const raw = rawClient(port)
  const cache = cachet(port)
  const noLock = cachet(port, { lock: false, prefix: 'nolock' })
  const busOnly = cachet(port, { l1: { invalidation: 'bus' }, prefix: 'busonly' })
  const bentoCache = bento(port, { l1: true, l2: true })
  const managerClient = rawClient(port)
  const manager = cacheManager(managerClient)
  let n = 0
  try {
    const contenders = [
      {
        name: 'raw limit: ioredis GET + SET',
        op: async () => {
          const key = `raw:miss:${n++}`
          const hit = await raw.get(key)
          if (hit === null) await raw.set(key, JSON.stringify(loader()), 'PX', TTL_MS)
        },
      },
      {
        name: 'cachet getOrSet',
        op: () => cache.getOrSet(`miss:${n++}`, loader),
        settle: () => settled(cache),
      },
      {
        name: 'cachet getOrSet, l1.invalidation: bus',
        op: () => busOnly.getOrSet(`miss:${n++}`, loader),
        settle: () => settled(busOnly),
      },
      {
        name: 'cachet getOrSet, lock: false',
        op: () => noLock.getOrSet(`miss:${n++}`, loader),
        settle: () => settled(noLock),
      },
      {
        name: 'bentocache getOrSet (memory + redis)',
        op: () => bentoCache.getOrSet({ key: `bento:miss:${n++}`, factory: loader }),
      },
      {
        name: 'cache-manager wrap (Keyv on ioredis)',
        op: () => manager.wrap(`cm:miss:${n++}`, loader),
      },
    ]
    const rows = throughputRows(await compare(contenders, plan(64)), contenders[0]!.name, {
      'cachet getOrSet':
        'L1 + L2, distributed lock, Redis tracking + bus (defaults); time includes its background writes',
      'cachet getOrSet, l1.invalidation: bus': 'informative: the bus alone keeps L1 coherent (no tracking)',
      'cachet getOrSet, lock: false': 'informative: single-flight in process only',
    })
    return {
      id: 'miss-set',
      title: '3. Miss + set, 64 in flight, distinct cold keys, trivial loader',
      tables: [{ title: '64 in flight', ratioOf: 'ops/s ÷ raw limit', rows }],
      goals: [goal('miss + set, 64 in flight', rows[1]!.ratio, '>=', 0.6)],
    }
  } finally {
    await cache.close()
    await noLock.close()
    await busOnly.close()
    await bentoCache.disconnect()
    await manager.disconnect()
    raw.disconnect()
    managerClient.disconnect()
  }
}
