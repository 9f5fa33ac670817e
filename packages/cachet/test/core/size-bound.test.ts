import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { serializeJson } from '../../src/core/codec/json-serializer.js'
import { msgpackSerializer } from '../../src/core/codec/msgpack-serializer.js'
import { exceedsBytes } from '../../src/core/codec/size-bound.js'

const value = fc.oneof(
  fc.jsonValue(),
  fc.anything({
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withNullPrototype: true,
  }),
)

describe('exceedsBytes: a lower bound of the serialised size', () => {
  it('never says "larger" of a value whose JSON or msgpack form fits the limit', () => {
    fc.assert(
      fc.property(value, fc.nat({ max: 400 }), (input, limit) => {
        if (!exceedsBytes(input, limit)) return
        expect(serializeJson(input).bytes.length).toBeGreaterThan(limit)
        expect(msgpackSerializer.serialize(input).length).toBeGreaterThan(limit)
      }),
      { numRuns: 2_000 },
    )
  })

  it('says "larger" of large strings, byte arrays, rows and sparse arrays without walking them all', () => {
    const limit = 1024 * 1024
    expect(exceedsBytes('x'.repeat(limit + 1), limit)).toBe(true)
    expect(exceedsBytes(Buffer.alloc(limit + 1), limit)).toBe(true)
    expect(exceedsBytes(new Array(1e9), limit)).toBe(true)
    const rows = Array.from({ length: 100_000 }, (_, i) => ({ id: i, name: `user ${i}` }))
    expect(exceedsBytes(rows, limit)).toBe(true)
    expect(exceedsBytes(rows.slice(0, 1_000), limit)).toBe(false)
    expect(exceedsBytes(new Map([['k', 'v'.repeat(limit)]]), limit)).toBe(true)
  })

  it('counts a cycle once and leaves it to the serialiser to refuse', () => {
    const cyclic: Record<string, unknown> = { name: 'a' }
    cyclic.self = cyclic
    expect(exceedsBytes(cyclic, 100)).toBe(false)
  })
})
