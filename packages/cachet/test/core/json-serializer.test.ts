import { describe, expect, it } from 'vitest'
import {
  deserializeJson,
  JSON_PLAIN_ID,
  JSON_TAGGED_ID,
  serializeJson,
} from '../../src/core/codec/json-serializer.js'
import { SerializationError } from '../../src/core/errors.js'

function roundTrip(value: unknown): unknown {
  const { id, bytes } = serializeJson(value)
  return deserializeJson(bytes.toString(), id)
}

describe('serializeJson', () => {
  it('writes plain JSON values as plain JSON (id 0)', () => {
    const value = { a: 1, b: 'x', c: [true, null, { d: 2.5 }], e: '' }
    const { id, bytes } = serializeJson(value)
    expect(id).toBe(JSON_PLAIN_ID)
    expect(bytes.toString()).toBe(JSON.stringify(value))
    expect(deserializeJson(bytes.toString(), id)).toEqual(value)
  })

  it.each([
    ['Date', new Date('2024-05-06T07:08:09.123Z')],
    ['invalid Date', new Date(Number.NaN)],
    ['BigInt', 12345678901234567890123n],
    ['negative BigInt', -5n],
    [
      'Map',
      new Map<unknown, unknown>([
        [1, 'one'],
        [{ k: 1 }, new Date(0)],
      ]),
    ],
    ['Set', new Set([1, 'a', 3n])],
    ['undefined in arrays', [undefined, 1, undefined]],
    ['NaN and infinities', [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]],
    ['top-level undefined', undefined],
  ])('round-trips %s in the tagged form (id 1)', (_name, value) => {
    expect(serializeJson(value).id).toBe(JSON_TAGGED_ID)
    expect(roundTrip(value)).toEqual(value)
  })

  it('keeps array holes out: undefined items come back as real items', () => {
    const back = roundTrip([undefined, 1]) as unknown[]
    expect(0 in back).toBe(true)
    expect(back).toHaveLength(2)
  })

  it('round-trips nested special types inside plain structures', () => {
    const value = {
      at: new Date(1_700_000_000_000),
      rows: [{ id: 1n, seen: new Set(['x']) }],
      index: new Map([['a', [undefined, { n: Number.NaN }]]]),
      plain: { s: 'text', n: 0, f: false },
    }
    expect(roundTrip(value)).toEqual(value)
  })

  it('does not mistake a user object with a "$t" key for a tag', () => {
    const value = { when: new Date(0), fake: { $t: 'D', v: 5 }, deeper: [{ $t: 'O', v: [] }] }
    expect(roundTrip(value)).toEqual(value)
  })

  it('drops undefined object properties, as JSON does', () => {
    expect(roundTrip({ a: undefined, b: new Date(0) })).toEqual({ b: new Date(0) })
  })

  it('uses toJSON of class instances', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON() {
        return { cents: this.cents, currency: 'EUR' }
      }
    }
    expect(roundTrip({ price: new Money(150) })).toEqual({ price: { cents: 150, currency: 'EUR' } })
  })

  it.each([
    ['a function', { a: { b: () => 1 } }, /function at \$\.a\.b/],
    ['a symbol', [1, Symbol('s')], /symbol at \$\[1\]/],
    ['a function at top level', () => 1, /function at \$/],
  ])('throws SerializationError on %s, naming the path', (_name, value, message) => {
    expect(() => serializeJson(value)).toThrow(SerializationError)
    expect(() => serializeJson(value)).toThrow(message)
  })

  it('throws SerializationError on cycles but accepts shared references', () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = { back: cyclic }
    expect(() => serializeJson(cyclic)).toThrow(/circular reference at \$\.self\.back/)
    const shared = { n: 1 }
    expect(roundTrip({ x: shared, y: shared })).toEqual({ x: { n: 1 }, y: { n: 1 } })
  })
})

describe('deserializeJson safety', () => {
  it('does not pollute Object.prototype from a rogue plain JSON value', () => {
    const rogue = Buffer.from('{"__proto__":{"polluted":1},"a":{"__proto__":{"polluted":2}}}')
    const value = deserializeJson(rogue.toString(), JSON_PLAIN_ID) as Record<string, unknown>
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.hasOwn(value, '__proto__')).toBe(false)
    expect(Object.hasOwn(value.a as object, '__proto__')).toBe(false)
    // Merging the result into another object must not reach a prototype either.
    const merged = Object.assign({}, value, value.a)
    expect((merged as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('drops keys spelled with \\u escapes and constructor.prototype', () => {
    const rogue = Buffer.from(
      '[{"\\u005f_proto__":{"x":1}},{"constructor":{"prototype":{"x":1}}},{"constructor":"Bob"}]',
    )
    const value = deserializeJson(rogue.toString(), JSON_PLAIN_ID) as Array<Record<string, unknown>>
    expect(Object.keys(value[0]!)).toEqual([])
    expect(Object.keys(value[1]!)).toEqual([])
    expect(value[2]).toEqual({ constructor: 'Bob' })
  })

  it('does not pollute through the tagged form', () => {
    const rogue = Buffer.from(
      '{"a":{"$t":"O","v":[["__proto__",{"polluted":1}],["ok",1]]},"b":{"__proto__":{"polluted":1}},"c":{"$t":"D","v":0}}',
    )
    const value = deserializeJson(rogue.toString(), JSON_TAGGED_ID) as Record<string, Record<string, unknown>>
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(value.a)).toBe(Object.prototype)
    expect(value.a).toEqual({ ok: 1 })
    expect(Object.hasOwn(value.b!, '__proto__')).toBe(false)
  })

  it.each([
    '{"$t":"X","v":1}',
    '{"$t":"B","v":"12abc"}',
    '{"$t":"B","v":"' + '9'.repeat(20_000) + '"}',
    '{"$t":"M","v":[[1]]}',
    '{"$t":"N","v":"1e999"}',
    '{"$t":"O","v":[[1,2]]}',
    '{"a":',
  ])('rejects malformed tagged JSON %#', (text) => {
    expect(() => deserializeJson(text, JSON_TAGGED_ID)).toThrow()
  })
})
