import { randomBytes } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Codec,
  createCodec,
  decodedSize,
  isCompressed,
  isTombstone,
  newVersion,
  readVersion,
} from '../../src/core/codec/envelope.js'
import { CorruptEntryError, errors, SerializationError } from '../../src/core/errors.js'
import type { Entry, Serializer } from '../../src/core/types.js'
import { entry } from '../helpers/entry.js'

const gzip = { threshold: 64, algorithm: 'gzip', level: 6 } as const
const brotli = { threshold: 64, algorithm: 'brotli', level: 4 } as const

function decodeEntry(codec: Codec, bytes: Buffer): Entry {
  const stored = codec.decode(bytes)
  if (stored.kind !== 'entry') throw new Error(`expected an entry, got ${stored.kind}`)
  return stored.entry
}

/** 5,000 rows shaped like seed 003's revenue report: about 500 KB of JSON. */
function reportRows(): unknown[] {
  const regions = ['north', 'south', 'east', 'west', 'central']
  return Array.from({ length: 5_000 }, (_, i) => ({
    id: 100_000 + i,
    orderDate: `2024-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
    customer: `Customer ${(i * 7919) % 1_000}`,
    email: `customer${(i * 7919) % 1_000}@example.com`,
    region: regions[i % regions.length],
    product: `SKU-${(i * 31) % 400}`,
    quantity: (i % 9) + 1,
    unitPrice: Math.round(((i * 37) % 10_000) + 99) / 100,
    revenue: Math.round(((i % 9) + 1) * (((i * 37) % 10_000) + 99)) / 100,
    status: i % 17 === 0 ? 'refunded' : 'paid',
  }))
}

const values: Array<[string, unknown]> = [
  ['null', null],
  ['zero', 0],
  ['empty string', ''],
  ['false', false],
  ['string', 'héllo wörld ✓ 😀'],
  ['plain object', { a: 1, b: [1, 2, { c: 'd' }] }],
  ['Date', new Date('2024-01-02T03:04:05.678Z')],
  ['BigInt', 2n ** 80n],
  ['Set', new Set([1, 2, 3])],
  ['undefined in arrays', [undefined, 1]],
  ['NaN', Number.NaN],
  ['large text', 'lorem ipsum dolor sit amet '.repeat(500)],
]

describe.each([
  ['json, no compression', createCodec({ serializer: 'json', compression: false })],
  ['json + gzip', createCodec({ serializer: 'json', compression: gzip })],
  ['json + brotli', createCodec({ serializer: 'json', compression: brotli })],
  ['msgpack, no compression', createCodec({ serializer: 'msgpack', compression: false })],
  ['msgpack + gzip', createCodec({ serializer: 'msgpack', compression: gzip })],
])('codec %s', (_name, codec) => {
  it.each(values)('round-trips %s with its metadata', (_type, value) => {
    const written = entry(value)
    expect(decodeEntry(codec, codec.encode(written))).toEqual(written)
  })

  it('round-trips an entry with no tags and no load time', () => {
    const written = entry({ x: 1 }, { tags: [], loadMs: 0 })
    expect(decodeEntry(codec, codec.encode(written))).toEqual(written)
  })

  it('round-trips arbitrary JSON values as JSON does: -0 comes back as 0 (property)', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.array(fc.stringMatching(/^[a-z:]{1,10}$/), { maxLength: 3 }),
        (value, tags) => {
          // A `__proto__` key never survives by design (json drops it, msgpackr renames it): tested apart.
          fc.pre(!JSON.stringify(value).includes('__proto__'))
          const written = entry(value, { tags })
          const expected = { ...written, value: JSON.parse(JSON.stringify(value)) }
          expect(decodeEntry(codec, codec.encode(written))).toEqual(expected)
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('msgpack codec', () => {
  it('round-trips Buffers and reads a Map back as a plain object (documented limitation)', () => {
    const codec = createCodec({ serializer: 'msgpack', compression: false })
    const back = decodeEntry(
      codec,
      codec.encode(entry({ bin: Buffer.from([1, 2, 3]), map: new Map([['k', 1]]) })),
    )
    expect(Buffer.from((back.value as { bin: Uint8Array }).bin)).toEqual(Buffer.from([1, 2, 3]))
    expect((back.value as { map: unknown }).map).toEqual({ k: 1 })
  })

  it('reads a rogue __proto__ key back renamed, without polluting', () => {
    const codec = createCodec({ serializer: 'msgpack', compression: false })
    const back = decodeEntry(codec, codec.encode(entry(JSON.parse('{"__proto__":{"polluted":1}}'))))
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(back.value)).toBe(Object.prototype)
    expect(Object.hasOwn(back.value as object, '__proto__')).toBe(false)
  })

  it('refuses functions and cycles instead of writing them as nil', () => {
    const codec = createCodec({ serializer: 'msgpack', compression: false })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => codec.encode(entry({ f: () => 1 }))).toThrow(SerializationError)
    expect(() => codec.encode(entry(cyclic))).toThrow(/circular/)
  })
})

describe('header byte', () => {
  const written = entry({ n: 1 })

  it('says envelope version 1, serializer, compression and tombstone', () => {
    const json = createCodec({ serializer: 'json', compression: false }).encode(written)
    expect(json[0]).toBe(0b001_0_00_00)
    const tagged = createCodec({ serializer: 'json', compression: false }).encode(entry(new Date(0)))
    expect(tagged[0]).toBe(0b001_0_01_00)
    const msgpack = createCodec({ serializer: 'msgpack', compression: false }).encode(written)
    expect(msgpack[0]).toBe(0b001_0_10_00)
    const big = entry('x'.repeat(10_000))
    expect(createCodec({ serializer: 'json', compression: gzip }).encode(big)[0]).toBe(0b001_0_00_01)
    expect(createCodec({ serializer: 'json', compression: brotli }).encode(big)[0]).toBe(0b001_0_00_10)
    const tombstone = createCodec({ serializer: 'json', compression: false }).encodeTombstone(written.version)
    expect(tombstone[0]).toBe(0b001_1_00_00)
  })

  it('lays out version, times, loadMs and tags as documented', () => {
    const bytes = createCodec({ serializer: 'json', compression: false }).encode(written)
    expect(bytes.toString('latin1', 1, 17)).toBe(written.version)
    expect(bytes.readDoubleBE(17)).toBe(written.createdAt)
    expect(bytes.readDoubleBE(25)).toBe(written.freshUntil)
    expect(bytes.readDoubleBE(33)).toBe(written.staleUntil)
    expect(bytes.readUInt32BE(41)).toBe(42)
    expect(bytes.readUInt16BE(45)).toBe('revenue\norders'.length)
    expect(bytes.toString('utf8', 47, 47 + 14)).toBe('revenue\norders')
    expect(bytes.toString('utf8', 61)).toBe('{"n":1}')
  })

  it('uses a custom serializer with id 3, and only a codec with that serializer reads it', () => {
    const upper: Serializer = {
      id: 3,
      serialize: (value) => Buffer.from(String(value).toUpperCase()),
      deserialize: (bytes) => bytes.toString().toLowerCase(),
    }
    const codec = createCodec({ serializer: upper, compression: false })
    const bytes = codec.encode(entry('abc'))
    expect((bytes[0]! >> 2) & 0b11).toBe(3)
    expect(decodeEntry(codec, bytes).value).toBe('abc')
    expect(() => createCodec({ serializer: 'json', compression: false }).decode(bytes)).toThrow(
      CorruptEntryError,
    )
  })

  it('reads entries written with another serializer', () => {
    const msgpack = createCodec({ serializer: 'msgpack', compression: gzip })
    const json = createCodec({ serializer: 'json', compression: false })
    const written = entry({ big: 'y'.repeat(5_000) })
    expect(decodeEntry(json, msgpack.encode(written))).toEqual(written)
  })

  it('clamps loadMs to uint32', () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    expect(decodeEntry(codec, codec.encode(entry(1, { loadMs: -5 }))).loadMs).toBe(0)
    expect(decodeEntry(codec, codec.encode(entry(1, { loadMs: 2 ** 40 }))).loadMs).toBe(2 ** 32 - 1)
  })

  it('refuses to encode a bad version, non-finite times or a tag with a newline', () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    expect(() => codec.encode(entry(1, { version: 'ABC' }))).toThrow(/16 lowercase hex/)
    expect(() => codec.encodeTombstone('')).toThrow(SerializationError)
    expect(() => codec.encode(entry(1, { staleUntil: Number.POSITIVE_INFINITY }))).toThrow(/staleUntil/)
    expect(() => codec.encode(entry(1, { tags: ['a\nb'] }))).toThrow(/newline/)
    expect(() => codec.encode(entry(1, { tags: [''] }))).toThrow(/empty/)
  })
})

describe('compression', () => {
  it('compresses only above the threshold, and only when it is smaller', () => {
    const codec = createCodec({
      serializer: 'json',
      compression: { threshold: 1024, algorithm: 'gzip', level: 6 },
    })
    expect(isCompressed(codec.encode(entry('a'.repeat(1000))))).toBe(false)
    expect(isCompressed(codec.encode(entry('a'.repeat(2000))))).toBe(true)
    // Random bytes do not shrink under gzip: stored as they are.
    const binary = createCodec({
      serializer: 'msgpack',
      compression: { threshold: 1024, algorithm: 'gzip', level: 6 },
    })
    const noise = randomBytes(4000)
    const bytes = binary.encode(entry(noise))
    expect(isCompressed(bytes)).toBe(false)
    expect(Buffer.from(decodeEntry(binary, bytes).value as Uint8Array)).toEqual(noise)
  })

  it('encodes 500 KB of report rows to under a third of their JSON size with gzip level 6', () => {
    const rows = reportRows()
    const jsonBytes = Buffer.byteLength(JSON.stringify(rows))
    expect(jsonBytes).toBeGreaterThan(450_000)
    const codec = createCodec({
      serializer: 'json',
      compression: { threshold: 1024, algorithm: 'gzip', level: 6 },
    })
    const bytes = codec.encode(entry(rows))
    expect(bytes.length).toBeLessThan(jsonBytes / 3)
    expect(decodeEntry(codec, bytes).value).toEqual(rows)
  })

  it('reports the decoded size of a compressed envelope', () => {
    const codec = createCodec({ serializer: 'json', compression: gzip })
    const value = 'z'.repeat(100_000)
    const bytes = codec.encode(entry(value, { tags: [] }))
    expect(bytes.length).toBeLessThan(1_000)
    expect(decodedSize(bytes)).toBe(47 + JSON.stringify(value).length)
    const plain = createCodec({ serializer: 'json', compression: false }).encode(entry(value))
    expect(decodedSize(plain)).toBe(plain.length)
  })
})

describe('tombstones and version helpers', () => {
  const codec = createCodec({ serializer: 'json', compression: false })

  it('encodes a tombstone as the format byte and the version only', () => {
    const version = newVersion()
    const bytes = codec.encodeTombstone(version)
    expect(bytes).toHaveLength(17)
    expect(isTombstone(bytes)).toBe(true)
    expect(readVersion(bytes)).toBe(version)
    expect(codec.decode(bytes)).toEqual({ kind: 'tombstone', version })
  })

  it('reads the version of an entry and knows it is no tombstone', () => {
    const written = entry('v')
    const bytes = codec.encode(written)
    expect(readVersion(bytes)).toBe(written.version)
    expect(isTombstone(bytes)).toBe(false)
    expect(isCompressed(bytes)).toBe(false)
  })

  it('answers undefined/false for bytes that are not an envelope', () => {
    const json = Buffer.from('{"a":1}')
    expect(readVersion(json)).toBeUndefined()
    expect(isTombstone(json)).toBe(false)
    expect(isCompressed(json)).toBe(false)
  })

  it('makes versions of 16 lowercase hex chars that do not repeat', () => {
    const versions = new Set(Array.from({ length: 10_000 }, newVersion))
    expect(versions.size).toBe(10_000)
    for (const version of versions) expect(version).toMatch(/^[0-9a-f]{16}$/)
  })
})

describe('legacy and hostile bytes', () => {
  const codec = createCodec({ serializer: 'json', compression: gzip })
  const legacyFields = {
    createdAt: 0,
    freshUntil: Number.MAX_SAFE_INTEGER,
    staleUntil: Number.MAX_SAFE_INTEGER,
    tags: [],
    version: '',
    loadMs: 0,
  }

  it.each([
    ['an object', '{"user":{"id":1}}', { user: { id: 1 } }],
    ['an array', '[1,2]', [1, 2]],
    ['a string (first byte is also a format byte)', '"hello"', 'hello'],
    ['a hex-looking string', `"${'a'.repeat(60)}"`, 'a'.repeat(60)],
    ['a number', '42', 42],
    ['a negative number', '-7', -7],
    ['JSON with leading space', ' {"a":1}', { a: 1 }],
    ['true', 'true', true],
  ])('reads plain JSON written by a seed system (%s) as a fresh entry', (_name, text, value) => {
    expect(decodeEntry(codec, Buffer.from(text))).toEqual({ value, ...legacyFields })
  })

  it('reads a rogue legacy value without polluting prototypes', () => {
    decodeEntry(codec, Buffer.from('{"__proto__":{"polluted":1}}'))
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  const good = codec.encode(entry({ some: 'value', list: [1, 2, 3] }))
  const compressed = codec.encode(entry('compress me '.repeat(200)))

  it.each([
    ['empty', Buffer.alloc(0)],
    ['not JSON', Buffer.from('hello world')],
    ['truncated header', good.subarray(0, 30)],
    ['truncated payload', good.subarray(0, good.length - 3)],
    ['truncated gzip', compressed.subarray(0, compressed.length - 10)],
    [
      'bad version chars',
      Buffer.concat([good.subarray(0, 1), Buffer.from('XXXXXXXXXXXXXXXX'), good.subarray(17)]),
    ],
    [
      'tags length past the end',
      Buffer.concat([good.subarray(0, 45), Buffer.from([0xff, 0xff]), good.subarray(47)]),
    ],
    ['unknown compression id 3', Buffer.concat([Buffer.from([good[0]! | 0b11]), good.subarray(1)])],
    ['envelope version 2', Buffer.concat([Buffer.from([(good[0]! & 0b11111) | (2 << 5)]), good.subarray(1)])],
    [
      'custom serializer id without a custom serializer',
      Buffer.concat([Buffer.from([good[0]! | 0b1100]), good.subarray(1)]),
    ],
    [
      'NaN times',
      (() => {
        const b = Buffer.from(good)
        b.writeDoubleBE(Number.NaN, 25)
        return b
      })(),
    ],
    [
      'staleUntil before freshUntil',
      (() => {
        const b = Buffer.from(good)
        b.writeDoubleBE(0, 33)
        return b
      })(),
    ],
    [
      'msgpack garbage',
      Buffer.concat([Buffer.from([good[0]! | 0b1000]), good.subarray(1, 47), Buffer.from([0xc1, 0xc1])]),
    ],
    ['raw msgpack from another system', Buffer.from([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x62, 0x02])],
  ])('throws CorruptEntryError on %s', (_name, bytes) => {
    expect(() => codec.decode(bytes)).toThrow(CorruptEntryError)
  })

  it('throws an error with the stable code E_CORRUPT_ENTRY, exported in the errors map', () => {
    const error = (() => {
      try {
        codec.decode(Buffer.from('not json'))
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(errors.CorruptEntryError)
    expect((error as CorruptEntryError).code).toBe('E_CORRUPT_ENTRY')
  })

  it('bounds decompression, so a zip bomb fails instead of exhausting memory', () => {
    const small = createCodec({ serializer: 'json', compression: gzip, maxPayloadBytes: 1_000_000 })
    const bomb = gzipSync(Buffer.alloc(10_000_000, 0x20))
    const header = Buffer.from(codec.encode(entry(1, { tags: [] })).subarray(0, 47))
    header[0] = header[0]! | 0b01
    expect(bomb.length).toBeLessThan(20_000)
    expect(() => small.decode(Buffer.concat([header, bomb]))).toThrow(CorruptEntryError)
  })

  it('never throws anything but CorruptEntryError on random or mutated bytes (property)', () => {
    const mutate = fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }))
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map(Buffer.from),
          fc.array(mutate, { minLength: 1, maxLength: 4 }).map((edits) => {
            const bytes = Buffer.from(good)
            for (const [at, byte] of edits) bytes[at] = byte
            return bytes
          }),
        ),
        (bytes) => {
          try {
            codec.decode(bytes)
          } catch (error) {
            expect(error).toBeInstanceOf(CorruptEntryError)
          }
        },
      ),
      { numRuns: 2_000 },
    )
  })

  it('rejects a 100,000-deep hostile document without a crash', () => {
    const deep = Buffer.from('['.repeat(100_000) + ']'.repeat(100_000))
    const header = Buffer.from(codec.encode(entry(1, { tags: [] })).subarray(0, 47))
    header[0] = (header[0]! & ~0b1111) | 0b0100 // tagged JSON, uncompressed
    expect(() => codec.decode(Buffer.concat([header, deep]))).toThrow(CorruptEntryError)
  })
})
