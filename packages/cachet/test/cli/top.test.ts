import { describe, expect, it } from 'vitest'
import type { HistoryPoint } from '../../src/admin/history.js'
import { renderTop, sparkline } from '../../src/cli/commands/top.js'

const point = (at: number, hit: number, hitRate: number | null): HistoryPoint => ({
  at,
  hitRate,
  opsPerSecond: { hit, miss: 1, stale: 0, error: 0 },
  readMs: { p50: 0.4, p99: 2 },
  loaderMs: null,
  l1Bytes: 2048,
  redisMemoryBytes: null,
  l2Errors: 3,
  circuit: 2,
})

describe('cachet top rendering', () => {
  it('scales a sparkline to its maximum, with gaps for missing samples', () => {
    expect(sparkline([0, 5, 10, null, 10])).toBe('▁▅█ █')
    expect(sparkline([0, 0])).toBe('▁▁')
    expect(sparkline(Array.from({ length: 100 }, (_, i) => i))).toHaveLength(60)
  })

  it('renders the latest sample and the trends', () => {
    const text = renderTop({
      instance: 'abcd1234',
      intervalMs: 5000,
      points: [point(0, 0, null), point(5000, 9, 0.9)],
    })
    expect(text).toContain('cachet top · instance abcd1234 · a point every 5 s · 2 point(s)')
    expect(text).toMatch(/^hit rate: 90\.0%$/m)
    expect(text).toMatch(/^read:\s+p50 0\.40 ms · p99 2\.00 ms$/m)
    expect(text).toMatch(/^loader:\s+—$/m)
    expect(text).toMatch(/^memory:\s+L1 2\.0K · Redis —$/m)
    expect(text).toMatch(/^L2:\s+3 error\(s\) · circuit OPEN$/m)
    expect(text).toMatch(/^hit rate {2}( )█$/m)
  })

  it('names the instance whose history it shows, and the one that answered', () => {
    const text = renderTop({ instance: 'abcd1234', of: '0f0f0f0f', intervalMs: 5000, points: [] })
    expect(text).toMatch(/^cachet top · instance 0f0f0f0f \(via abcd1234\) · a point every 5 s/)
  })

  it('says it is waiting when there is no sample yet', () => {
    expect(renderTop({ instance: 'abcd1234', intervalMs: 5000, points: [] })).toMatch(
      /waiting for the first sample/,
    )
  })
})
