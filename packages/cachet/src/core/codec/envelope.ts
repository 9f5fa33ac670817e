import { randomBytes } from 'node:crypto'
import { CachetError, CorruptEntryError, SerializationError } from '../errors.js'
import type { CompressionOptions, Entry, EntryHead, Serializer, Stored } from '../types.js'
import { COMPRESSION_ID, compress, decompress, inflateZlib, isZlibStream } from './compression.js'
import { decodeMeta, encodeMeta } from './entry-meta.js'
import { deserializeJson, JSON_PLAIN_ID, JSON_TAGGED_ID, serializeJson } from './json-serializer.js'
import { MSGPACK_ID, msgpackSerializer } from './msgpack-serializer.js'
import { parseSafeJson } from './safe-json.js'
import { exceedsBytes } from './size-bound.js'

/*
 * Byte layout (docs/architecture.md):
 *   0      format byte: bits 0-1 compression, 2-3 serializer, 4 tombstone, 5-7 envelope version
 *   1-16   version, 16 ASCII hex chars (Lua reads it with GETRANGE key 1 16)
 *   17-40  createdAt, freshUntil, staleUntil: float64 BE
 *   41-44  loadMs uint32 BE
 *   45-46  byte length of the tag section, then the section: an optional meta block (ETag,
 *          Last-Modified: codec/entry-meta.ts) and the tags (UTF-8, joined by '\n'); then the payload
 */
const ENVELOPE_VERSION = 1
const VERSION_START = 1
const VERSION_END = 17
const HEADER_BYTES = 47
const TOMBSTONE_FLAG = 0b1_0000
const CUSTOM_ID = 3
const MAX_TAG_BYTES = 0xffff
const MAX_LOAD_MS = 0xffff_ffff
const VERSION_PATTERN = /^[0-9a-f]{16}$/
/** Default bound on a decompressed payload: a hostile "zip bomb" must not exhaust memory. */
const DEFAULT_MAX_PAYLOAD_BYTES = 128 * 1024 * 1024

/** Encodes entries and tombstones to envelope bytes and decodes them back. */
export interface Codec {
  /**
   * True when the value surely serialises to more than `maxSerializedBytes`, decided without serialising
   * it (never for a custom serializer, whose output size is unknown).
   */
  oversized(value: unknown): boolean
  encode(entry: Entry): Buffer
  /**
   * The entry's header, meta and tags around the payload `stored` already holds, copied as is: a
   * renewal (ctx.notModified()) serialises and compresses nothing. Undefined for a tombstone or a
   * short legacy value; a long legacy value can pass its checks, so callers hand only bytes they read as
   * a cachet entry (store-load.ts envelopeBytes).
   */
  reframe(stored: Buffer, entry: Entry): Buffer | undefined
  encodeTombstone(version: string): Buffer
  /** Throws CorruptEntryError on bytes it cannot read; the engine treats that as a miss. */
  decode(bytes: Buffer): Stored
}

/** Options of createCodec(). */
export interface CodecOptions {
  serializer: 'json' | 'msgpack' | Serializer
  compression: CompressionOptions | false
  /** Largest payload a decompression may produce. @default 128 MiB */
  maxPayloadBytes?: number
  /**
   * Compression gives up once its output passes this many bytes and the payload stays uncompressed:
   * an entry that large is refused by Redis either way (`l2.maxValueBytes`). @default no bound
   */
  maxCompressedBytes?: number
  /** What oversized() compares with. @default no bound */
  maxSerializedBytes?: number
}

/**
 * Creates the codec of one cache. Whatever serializer it writes with, it reads every cachet serializer
 * id (JSON, tagged JSON, msgpack; custom only with the same custom serializer) and legacy plain JSON.
 */
export function createCodec(options: CodecOptions): Codec {
  const { compression } = options
  const custom = typeof options.serializer === 'object' ? options.serializer : undefined
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES
  const serialize = serializerFor(options.serializer)
  const compressionId = compression ? COMPRESSION_ID[compression.algorithm] : COMPRESSION_ID.none
  const { maxSerializedBytes } = options

  return {
    oversized(value) {
      return (
        custom === undefined && maxSerializedBytes !== undefined && exceedsBytes(value, maxSerializedBytes)
      )
    },

    encode(entry) {
      assertVersion(entry.version)
      const { id, bytes: raw } = serialize(entry.value)
      let payload = raw
      let compressed: number = COMPRESSION_ID.none
      if (compression && raw.length > compression.threshold) {
        const smaller = compress(raw, compression, options.maxCompressedBytes)
        if (smaller && smaller.length < raw.length) {
          payload = smaller
          compressed = compressionId
        }
      }
      return frame(formatByte(compressed, id, false), entry, payload, 0)
    },

    reframe(stored, entry) {
      assertVersion(entry.version)
      if (stored.length < HEADER_BYTES || !isFormatByte(stored[0]!) || stored[0]! & TOMBSTONE_FLAG) {
        return undefined
      }
      const payloadStart = HEADER_BYTES + stored.readUInt16BE(45)
      if (payloadStart > stored.length) return undefined
      return frame(stored[0]!, entry, stored, payloadStart)
    },

    encodeTombstone(version) {
      assertVersion(version)
      const out = Buffer.allocUnsafe(VERSION_END)
      out[0] = formatByte(COMPRESSION_ID.none, 0, true)
      out.write(version, VERSION_START, 'latin1')
      return out
    },

    decode(bytes) {
      if (bytes.length === 0) throw new CorruptEntryError('empty value')
      if (!isFormatByte(bytes[0]!)) return legacyEntry(bytes, maxPayloadBytes)
      try {
        return decodeEnvelope(bytes, custom, maxPayloadBytes)
      } catch (error) {
        // Plain JSON such as `"abc…"`, `-1` or `42` starts with a byte that is also a valid format byte.
        if (startsLikeJson(bytes[0]!)) {
          try {
            return legacyEntry(bytes, maxPayloadBytes)
          } catch {
            // Neither an envelope nor JSON: report the envelope error, it is the more likely story.
          }
        }
        throw asCorrupt(error)
      }
    },
  }
}

/** A fresh random write version: 16 lowercase hex chars (8 random bytes). */
export function newVersion(): string {
  // randomBytes has a fixed per-call cost; drawing 8 bytes at a time from a 4 KiB pool amortizes it.
  if (poolOffset + 8 > pool.length) {
    pool = randomBytes(4096)
    poolOffset = 0
  }
  const version = pool.toString('hex', poolOffset, poolOffset + 8)
  poolOffset += 8
  return version
}
let pool = Buffer.alloc(0)
let poolOffset = 0

/** The version an envelope or tombstone carries; undefined for bytes that are not a cachet envelope. */
export function readVersion(bytes: Buffer): string | undefined {
  if (bytes.length < VERSION_END || !isFormatByte(bytes[0]!) || !hasHexVersion(bytes)) return undefined
  return bytes.toString('latin1', VERSION_START, VERSION_END)
}

/** True when the bytes are an envelope whose payload is compressed. */
export function isCompressed(bytes: Buffer): boolean {
  return bytes.length >= HEADER_BYTES && isFormatByte(bytes[0]!) && (bytes[0]! & 0b11) !== COMPRESSION_ID.none
}

/** True when the bytes are a tombstone left by an invalidation. */
export function isTombstone(bytes: Buffer): boolean {
  return bytes.length >= VERSION_END && isFormatByte(bytes[0]!) && (bytes[0]! & TOMBSTONE_FLAG) !== 0
}

/** Bytes an envelope's head takes up to staleUntil: all readTimes() needs. */
export const TIMES_HEAD_BYTES = 41

/** freshUntil and staleUntil (ms) of an entry's envelope; undefined for a tombstone or foreign bytes. */
export function readTimes(bytes: Buffer): { freshUntil: number; staleUntil: number } | undefined {
  const head = readHead(bytes)
  return head && { freshUntil: head.freshUntil, staleUntil: head.staleUntil }
}

/** The version and lifetimes an entry's envelope (its first TIMES_HEAD_BYTES will do) carries; undefined for a tombstone or foreign bytes. */
export function readHead(bytes: Buffer): EntryHead | undefined {
  if (bytes.length < TIMES_HEAD_BYTES || !isFormatByte(bytes[0]!) || (bytes[0]! & TOMBSTONE_FLAG) !== 0) {
    return undefined
  }
  if (!hasHexVersion(bytes)) return undefined
  return {
    version: bytes.toString('latin1', VERSION_START, VERSION_END),
    freshUntil: bytes.readDoubleBE(25),
    staleUntil: bytes.readDoubleBE(33),
  }
}

/**
 * The uncompressed size of an envelope, for the L1 byte bound: a compressed payload occupies far more
 * memory once decoded than its Redis bytes suggest. gzip keeps the size in its trailer (ISIZE, mod 4 GiB);
 * brotli keeps none, so its compressed size is multiplied by 4, a typical ratio for JSON.
 */
export function decodedSize(bytes: Buffer): number {
  if (!isCompressed(bytes)) return bytes.length
  const payloadStart = HEADER_BYTES + bytes.readUInt16BE(45)
  if ((bytes[0]! & 0b11) === COMPRESSION_ID.gzip && bytes.length >= payloadStart + 18) {
    return payloadStart + bytes.readUInt32LE(bytes.length - 4)
  }
  return payloadStart + (bytes.length - payloadStart) * 4
}

type SerializeFn = (value: unknown) => { id: number; bytes: Buffer }

function serializerFor(serializer: CodecOptions['serializer']): SerializeFn {
  if (serializer === 'json') return serializeJson
  if (serializer === 'msgpack')
    return (value) => ({ id: MSGPACK_ID, bytes: msgpackSerializer.serialize(value) })
  return (value) => {
    try {
      return { id: CUSTOM_ID, bytes: serializer.serialize(value) }
    } catch (error) {
      if (error instanceof CachetError) throw error
      throw new SerializationError(`custom serializer failed: ${(error as Error).message}`, { cause: error })
    }
  }
}

function decodeEnvelope(bytes: Buffer, custom: Serializer | undefined, maxPayloadBytes: number): Stored {
  const format = bytes[0]!
  if (bytes.length < VERSION_END) throw new CorruptEntryError(`truncated envelope (${bytes.length} bytes)`)
  if (!hasHexVersion(bytes)) throw new CorruptEntryError('envelope version is not 16 hex chars')
  const version = bytes.toString('latin1', VERSION_START, VERSION_END)
  if (format & TOMBSTONE_FLAG) return { kind: 'tombstone', version }

  if (bytes.length < HEADER_BYTES) throw new CorruptEntryError(`truncated envelope (${bytes.length} bytes)`)
  const createdAt = bytes.readDoubleBE(17)
  const freshUntil = bytes.readDoubleBE(25)
  const staleUntil = bytes.readDoubleBE(33)
  if (!Number.isFinite(createdAt) || !Number.isFinite(freshUntil) || !(staleUntil >= freshUntil)) {
    throw new CorruptEntryError('envelope times are not finite or staleUntil < freshUntil')
  }
  if (!Number.isFinite(staleUntil)) throw new CorruptEntryError('envelope staleUntil is not finite')
  const loadMs = bytes.readUInt32BE(41)
  const tagEnd = HEADER_BYTES + bytes.readUInt16BE(45)
  if (tagEnd > bytes.length) throw new CorruptEntryError('envelope tags run past the end')
  const withMeta = decodeMeta(bytes, HEADER_BYTES, tagEnd)
  const tagsStart = withMeta === undefined ? HEADER_BYTES : withMeta.tagsStart
  const tags = tagEnd === tagsStart ? [] : splitTags(bytes.toString('utf8', tagsStart, tagEnd))

  const compressionId = format & 0b11
  const serializerId = (format >> 2) & 0b11
  let value: unknown
  if (compressionId === COMPRESSION_ID.none && serializerId <= JSON_TAGGED_ID) {
    // The L2-hit hot path: decode the JSON text straight out of the envelope, no intermediate Buffer.
    value = deserializeJson(bytes.toString('utf8', tagEnd), serializerId)
  } else {
    let payload = bytes.subarray(tagEnd)
    if (compressionId !== COMPRESSION_ID.none) payload = decompress(payload, compressionId, maxPayloadBytes)
    value = deserialize(serializerId, payload, custom)
  }
  const entry: Entry = { value, createdAt, freshUntil, staleUntil, tags, version, loadMs }
  if (withMeta !== undefined) entry.meta = withMeta.meta
  return { kind: 'entry', entry }
}

/**
 * An envelope: the header from `entry`, its meta block and tags, then `source` from `payloadStart` on
 * (a payload just serialised, or the one a stored envelope holds).
 */
function frame(format: number, entry: Entry, source: Buffer, payloadStart: number): Buffer {
  const tagText = joinTags(entry.tags)
  const meta = encodeMeta(entry.meta)
  // The meta line and the tags are separated by a '\n', as the tags are from each other.
  const metaBytes = meta === undefined ? 0 : meta.length + (tagText === '' ? 0 : 1)
  const sectionBytes = metaBytes + Buffer.byteLength(tagText, 'utf8')
  if (sectionBytes > MAX_TAG_BYTES) {
    throw new SerializationError(`the tags and validators of one entry exceed ${MAX_TAG_BYTES} bytes`)
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + sectionBytes + source.length - payloadStart)
  out[0] = format
  out.write(entry.version, VERSION_START, 'latin1')
  out.writeDoubleBE(finite(entry.createdAt, 'createdAt'), 17)
  out.writeDoubleBE(finite(entry.freshUntil, 'freshUntil'), 25)
  out.writeDoubleBE(finite(entry.staleUntil, 'staleUntil'), 33)
  out.writeUInt32BE(Math.min(MAX_LOAD_MS, Math.max(0, Math.round(entry.loadMs) || 0)), 41)
  out.writeUInt16BE(sectionBytes, 45)
  if (meta !== undefined) {
    meta.copy(out, HEADER_BYTES)
    if (tagText !== '') out[HEADER_BYTES + meta.length] = 0x0a
  }
  out.write(tagText, HEADER_BYTES + metaBytes, 'utf8')
  source.copy(out, HEADER_BYTES + sectionBytes, payloadStart)
  return out
}

function deserialize(id: number, payload: Buffer, custom: Serializer | undefined): unknown {
  if (id === JSON_PLAIN_ID || id === JSON_TAGGED_ID) return deserializeJson(payload.toString('utf8'), id)
  if (id === MSGPACK_ID) return msgpackSerializer.deserialize(payload)
  if (custom === undefined)
    throw new CorruptEntryError('entry was written by a custom serializer this cache lacks')
  return custom.deserialize(payload)
}

/**
 * A value another writer stored (a cache cachet replaces): plain JSON, or JSON in a zlib stream as seed
 * 001's Flask cache writes responses above 1 KB (`zlib.compress(json, 6)`). A fresh entry with no tags.
 */
function legacyEntry(bytes: Buffer, maxPayloadBytes: number): Stored {
  let value: unknown
  try {
    const text = isZlibStream(bytes) ? inflateZlib(bytes, maxPayloadBytes) : bytes
    value = parseSafeJson(text.toString('utf8'))
  } catch (error) {
    throw new CorruptEntryError('value is neither a cachet envelope nor JSON (plain or zlib)', {
      cause: error,
    })
  }
  return {
    kind: 'entry',
    entry: {
      value,
      createdAt: 0,
      freshUntil: Number.MAX_SAFE_INTEGER,
      staleUntil: Number.MAX_SAFE_INTEGER,
      tags: [],
      version: '',
      loadMs: 0,
    },
  }
}

/** Checks the version bytes in place: cheaper than a regex over a decoded string on every read. */
function hasHexVersion(bytes: Buffer): boolean {
  for (let i = VERSION_START; i < VERSION_END; i++) {
    const byte = bytes[i]!
    if (!((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66))) return false
  }
  return true
}

/** Most entries carry one tag; skip the split then. */
function splitTags(text: string): string[] {
  return text.includes('\n') ? text.split('\n') : [text]
}

function formatByte(compressionId: number, serializerId: number, tombstone: boolean): number {
  return (ENVELOPE_VERSION << 5) | (tombstone ? TOMBSTONE_FLAG : 0) | (serializerId << 2) | compressionId
}

/** Envelope version 1 and a known compression id (3 is unused). */
function isFormatByte(byte: number): boolean {
  return byte >> 5 === ENVELOPE_VERSION && (byte & 0b11) !== 0b11
}

/** Space, '"', '-' and digits are both JSON starts and format bytes of envelope version 1. */
function startsLikeJson(byte: number): boolean {
  return byte === 0x20 || byte === 0x22 || byte === 0x2d || (byte >= 0x30 && byte <= 0x39)
}

function joinTags(tags: readonly string[]): string {
  for (const tag of tags) {
    if (tag === '' || tag.includes('\n') || tag.includes('\0')) {
      throw new SerializationError(
        `tag ${JSON.stringify(tag)} cannot be stored: empty, or contains a newline or a NUL`,
      )
    }
  }
  return tags.join('\n')
}

function assertVersion(version: string): void {
  if (!VERSION_PATTERN.test(version)) {
    throw new SerializationError(
      `entry version must be 16 lowercase hex chars, got ${JSON.stringify(version)}`,
    )
  }
}

function finite(value: number, name: string): number {
  if (!Number.isFinite(value))
    throw new SerializationError(`entry ${name} must be a finite number, got ${value}`)
  return value
}

function asCorrupt(error: unknown): CorruptEntryError {
  if (error instanceof CorruptEntryError) return error
  return new CorruptEntryError(`cannot decode entry: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  })
}
