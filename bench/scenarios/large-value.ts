import type { Redis } from 'ioredis'
import { bento, cacheManager, cachet, rawClient, settled, TTL_MS } from '../contenders.js'
import { reportRows } from '../fixtures.js'
import { compare, plan } from '../harness.js'
import { goal, type Row, type ScenarioResult } from '../report.js'

/** Rows of a sales report: about 530 KB of JSON. */
const REPORT_ROWS = 4_080

async function keysMatching(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    found.push(...keys)
    cursor = next
  } while (cursor !== '0')
  return found
}

/** 4. A 530 KB JSON value: bytes stored in Redis vs its JSON, and L2 get time vs raw ioredis. */
export async function largeValue(port: number): Promise<ScenarioResult> {
  const rows = reportRows(REPORT_ROWS)
  const json = JSON.stringify(rows)
  const jsonBytes = Buffer.byteLength(json)
  const loader = () => rows
  const raw = rawClient(port)
  const cache = cachet(port, { l1: false })
  const bentoCache = bento(port, { l1: false, l2: true })
  const managerClient = rawClient(port)
  const manager = cacheManager(managerClient)
  try {
    await raw.set('raw:report', json, 'PX', TTL_MS)
    await cache.getOrSet('report', loader)
    await bentoCache.getOrSet({ key: 'report', factory: loader })
    await manager.wrap('report', loader)
    await settled(cache)

    const stored = new Map<string, number>()
    for (const key of await keysMatching(raw, '*report*')) stored.set(key, await raw.strlen(key))
    const sizeOf = (match: (key: string) => boolean) => {
      const key = [...stored.keys()].find(match)
      return key === undefined ? undefined : stored.get(key)
    }
    const sizes: Array<[string, number | undefined]> = [
      ['raw limit: the JSON bytes (ioredis SET)', sizeOf((key) => key === 'raw:report')],
      ['cachet (gzip above 1 KiB, default)', sizeOf((key) => key === 'cache:report')],
      [
        'bentocache (redis)',
        sizeOf((key) => !key.startsWith('raw:') && !key.startsWith('cache:') && !key.startsWith('keyv')),
      ],
      ['cache-manager (Keyv on ioredis)', sizeOf((key) => key.startsWith('keyv'))],
    ]
    const sizeRows: Row[] = sizes.map(([contender, bytes]) => ({
      contender,
      bytes,
      ratio: bytes === undefined ? Number.NaN : bytes / jsonBytes,
      note: bytes === undefined ? 'key not found' : undefined,
    }))

    const contenders = [
      {
        name: 'raw limit: ioredis GET + JSON.parse',
        op: async () => JSON.parse((await raw.get('raw:report'))!),
      },
      { name: 'cachet getOrSet (l1: false)', op: () => cache.getOrSet('report', loader) },
      {
        name: 'bentocache getOrSet (redis only)',
        op: () => bentoCache.getOrSet({ key: 'report', factory: loader }),
      },
      { name: 'cache-manager wrap (Keyv on ioredis)', op: () => manager.wrap('report', loader) },
    ]
    const measured = await compare(contenders, plan(1, { warmupMs: 500, sampleMs: 600 }))
    const limit = measured[0]!
    const timeRows: Row[] = measured.map((m) => ({
      contender: m.name,
      opsPerSec: m.opsPerSec,
      nsPerOp: m.nsPerOp,
      cpuNsPerOp: m.cpuNsPerOp,
      ratio: m.nsPerOp / limit.nsPerOp,
    }))
    return {
      id: 'large-value',
      title: `4. ${(jsonBytes / 1000).toFixed(0)} KB JSON value (${REPORT_ROWS.toLocaleString('en')} report rows), L1 off`,
      tables: [
        {
          title: 'stored size (STRLEN)',
          ratioOf: 'stored bytes ÷ JSON bytes, lower is better',
          rows: sizeRows,
        },
        { title: 'get, one at a time', ratioOf: 'time per get ÷ raw limit, lower is better', rows: timeRows },
      ],
      goals: [
        goal('530 KB value, stored size', sizeRows[1]!.ratio, '<=', 0.3),
        goal('530 KB value, get time', timeRows[1]!.ratio, '<=', 1.5),
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
