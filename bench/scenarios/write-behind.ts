import { createWriteBehind } from 'cachet/write-behind'
import { cachet, rawClient } from '../contenders.js'
import { compare, plan } from '../harness.js'
import { goal, type ScenarioResult, throughputRows } from '../report.js'

/**
 * 5. Write-behind: acknowledged writes per second, 64 in flight, against a bare XADD loop of the same
 * fields. The bench's Redis is switched to the journal's settings (append-only file, everysec,
 * noeviction) for this scenario only.
 */
export async function writeBehind(port: number): Promise<ScenarioResult> {
  const admin = rawClient(port)
  const previous = (await admin.config('GET', 'appendonly')) as string[]
  await admin.config('SET', 'appendonly', 'yes', 'appendfsync', 'everysec')
  const raw = rawClient(port)
  const journal = rawClient(port)
  const cache = cachet(port, { prefix: 'wb' })
  const value = { productId: 42, views: 1, lastSeen: '2026-12-01T12:00:00.000Z' }
  const fields = ['k', '', 's', '0', 'v', JSON.stringify(value)]
  const writeOnly = await createWriteBehind({
    cache,
    journal,
    stream: 'bench:wb',
    flush: async () => {},
    flusher: false,
  })
  const flushing = await createWriteBehind({
    cache,
    journal,
    stream: 'bench:wb-flushed',
    flush: async () => {},
  })
  let n = 0
  try {
    const contenders = [
      {
        name: 'raw limit: ioredis XADD',
        op: () =>
          raw.xadd('bench:raw', '*', ...fields.map((field, i) => (i === 1 ? `product:${n++}` : field))),
      },
      { name: 'cachet write-behind write()', op: () => writeOnly.write(`product:${n++ % 10_000}`, value) },
      {
        name: 'cachet write()',
        op: () => flushing.write(`product:${n++ % 10_000}`, value),
      },
    ]
    const rows = throughputRows(await compare(contenders, plan(64)), contenders[0]!.name, {
      'cachet write-behind write()':
        'XADD acknowledged + cache updated (write-through rules); flusher elsewhere',
      'cachet write()': 'same, with the flusher in this process (no-op flush, batches of 500)',
    })
    rows[2]!.contender = 'cachet write(), flusher in process'
    return {
      id: 'write-behind',
      title: '5. Write-behind: acknowledged writes, 64 in flight, AOF everysec',
      tables: [{ title: '64 in flight', ratioOf: 'ops/s ÷ raw limit', rows }],
      goals: [goal('write-behind acknowledged writes', rows[1]!.ratio, '>=', 0.15)],
    }
  } finally {
    await writeOnly.stop()
    await flushing.stop()
    await cache.close()
    await admin.del('bench:raw', 'bench:wb', 'bench:wb-flushed')
    await admin.config('SET', 'appendonly', previous[1] ?? 'no')
    for (const connection of [admin, raw, journal]) connection.disconnect()
  }
}
