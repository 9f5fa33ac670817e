import { describe, expect, it } from 'vitest'
import { createCodec, decodedSize, newVersion, readTimes } from '../../src/core/codec/envelope.js'
import { CorruptEntryError } from '../../src/core/errors.js'
import type { Entry, Serializer } from '../../src/core/types.js'
import { entry } from '../helpers/entry.js'

const gzip = { threshold: 64, algorithm: 'gzip', level: 6 } as const

function decoded(bytes: Buffer, codec = createCodec({ serializer: 'json', compression: false })): Entry {
  const stored = codec.decode(bytes)
  if (stored.kind !== 'entry') throw new Error(`expected an entry, got ${stored.kind}`)
  return stored.entry
}

const lastModified = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')

describe('entry meta (ETag, Last-Modified) in the envelope', () => {
  it('round-trips an etag and a lastModified, alone or together, with and without tags', () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    for (const meta of [{ etag: 'W/"abc"' }, { lastModified }, { etag: '"é-ü"', lastModified }]) {
      for (const tags of [[], ['a'], ['revenue', 'orders']]) {
        const back = decoded(codec.encode(entry({ n: 1 }, { meta, tags })))
        expect(back.meta).toEqual(meta)
        expect(back.tags).toEqual(tags)
        expect(back.value).toEqual({ n: 1 })
      }
    }
  })

  it('leaves an entry without meta byte for byte as before, and decodes it with no meta property', () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    const plain = entry({ n: 1 })
    const bytes = codec.encode(plain)
    // Header 47 bytes + 'revenue\norders' + '{"n":1}'.
    expect(bytes.length).toBe(47 + 14 + 7)
    expect(bytes.readUInt16BE(45)).toBe(14)
    expect('meta' in decoded(bytes)).toBe(false)
  })

  it('keeps the fixed header where the Lua scripts and readTimes read it', () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    const with_ = codec.encode(entry('v', { meta: { etag: '"1"', lastModified } }))
    expect(readTimes(with_)).toEqual({ freshUntil: 1_700_000_300_000, staleUntil: 1_700_003_600_000 })
    expect(decodedSize(with_)).toBe(with_.length)
  })

  it('reframe() puts a new header, tags and meta around the stored payload without serialising it', () => {
    let serialized = 0
    const custom: Serializer = {
      id: 3,
      serialize: (value) => {
        serialized++
        return Buffer.from(JSON.stringify(value))
      },
      deserialize: (bytes) => JSON.parse(bytes.toString()),
    }
    const codec = createCodec({ serializer: custom, compression: gzip })
    const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, name: `row ${i}` }))
    const original = codec.encode(entry(rows, { meta: { etag: '"v1"' } }))
    expect(serialized).toBe(1)
    const renewed = entry(rows, {
      createdAt: 1_800_000_000_000,
      freshUntil: 1_800_000_060_000,
      staleUntil: 1_800_000_120_000,
      tags: ['only'],
      meta: { etag: '"v1"', lastModified },
    })
    const bytes = codec.reframe(original, renewed)!
    expect(serialized).toBe(1)
    // Same compressed payload, byte for byte, and the same format byte.
    const payload = (b: Buffer) => b.subarray(47 + b.readUInt16BE(45))
    expect(payload(bytes).equals(payload(original))).toBe(true)
    expect(bytes[0]).toBe(original[0])
    const back = decoded(bytes, codec)
    expect(back.value).toEqual(rows)
    expect(back).toMatchObject({
      version: renewed.version,
      freshUntil: 1_800_000_060_000,
      staleUntil: 1_800_000_120_000,
      tags: ['only'],
      meta: { etag: '"v1"', lastModified },
    })
  })

  it('reframe() refuses what is not an envelope entry: a tombstone, a legacy JSON value', () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    expect(codec.reframe(codec.encodeTombstone(newVersion()), entry(1))).toBeUndefined()
    expect(codec.reframe(Buffer.from('{"legacy":true}'), entry(1))).toBeUndefined()
  })

  it('treats a damaged meta block as a corrupt entry, never as tags or a crash', () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    const good = codec.encode(entry('v', { meta: { etag: '"abc"' }, tags: [] }))
    const notJson = Buffer.from(good)
    notJson[48] = 0b1000
    expect(() => codec.decode(notJson)).toThrow(CorruptEntryError)
    // The same length as the good block, so only the block's content is wrong.
    for (const block of ['{"e":123456789}', '{"m":"1234567"}', '{"x":123456789}']) {
      const bad = Buffer.from(good)
      expect(Buffer.byteLength(block)).toBe(good.readUInt16BE(45) - 1)
      bad.write(block, 48, 'utf8')
      expect(() => codec.decode(bad), block).toThrow(CorruptEntryError)
    }
  })

  // A cachet from before the meta block reads the tag section as UTF-8 text split on '\n', and its
  // expire() / addTags() write that text back joined by '\n'. The block is one text line of its own:
  // the older reader keeps every real tag, and its rewrite gives back bytes this version reads whole.
  it('survives an older reader: its tags are intact and its rewrite of the tag section keeps the meta', () => {
    const codec = createCodec({ serializer: 'json', compression: false })
    const meta = { etag: 'W/"x\n\u0000y"', lastModified }
    const bytes = codec.encode(entry('v', { meta, tags: ['t1', 't2'] }))
    const tagEnd = 47 + bytes.readUInt16BE(45)
    // What the older decoder sees, then what its encoder writes back (tags joined by '\n', UTF-8).
    const olderTags = bytes.toString('utf8', 47, tagEnd).split('\n')
    expect(olderTags).toHaveLength(3)
    expect(olderTags.slice(1)).toEqual(['t1', 't2'])
    const section = Buffer.from(olderTags.join('\n'), 'utf8')
    const rewritten = Buffer.concat([bytes.subarray(0, 47), section, bytes.subarray(tagEnd)])
    rewritten.writeUInt16BE(section.length, 45)
    expect(rewritten.equals(bytes)).toBe(true)
    const decoded = codec.decode(rewritten)
    expect(decoded.kind === 'entry' && decoded.entry.meta).toEqual(meta)
    expect(decoded.kind === 'entry' && decoded.entry.tags).toEqual(['t1', 't2'])
  })
})
