import { CorruptEntryError } from '../errors.js'
import type { EntryMeta } from '../types.js'

/*
 * An entry's validators (ETag, Last-Modified) ride at the start of the envelope's tag section, so the
 * fixed header (which the Lua scripts read) is unchanged and an entry without them is byte for byte
 * what it was (docs/architecture.md):
 *   0      0x00 marker (a tag is never empty and never contains NUL, so a tag section never starts so)
 *   1      flags: bit 0 etag, bit 1 lastModified
 *   [8]    lastModified, float64 BE (epoch ms)
 *   [2+n]  etag byte length uint16 BE, then the etag in UTF-8
 * The tags follow, as before.
 */
const MARKER = 0x00
const HAS_ETAG = 0b01
const HAS_LAST_MODIFIED = 0b10

/** Longest ETag kept, in UTF-8 bytes (real ones are a few dozen). */
export const MAX_ETAG_BYTES = 1024

/** The meta block's bytes; undefined when there is nothing to store. */
export function encodeMeta(meta: EntryMeta | undefined): Buffer | undefined {
  if (meta === undefined) return undefined
  const { etag, lastModified } = meta
  if (etag === undefined && lastModified === undefined) return undefined
  const etagBytes = etag === undefined ? 0 : Buffer.byteLength(etag, 'utf8')
  const out = Buffer.allocUnsafe(
    2 + (lastModified === undefined ? 0 : 8) + (etag === undefined ? 0 : 2 + etagBytes),
  )
  out[0] = MARKER
  out[1] = (etag === undefined ? 0 : HAS_ETAG) | (lastModified === undefined ? 0 : HAS_LAST_MODIFIED)
  let at = 2
  if (lastModified !== undefined) at = out.writeDoubleBE(lastModified, at)
  if (etag !== undefined) {
    at = out.writeUInt16BE(etagBytes, at)
    out.write(etag, at, 'utf8')
  }
  return out
}

/**
 * Reads the meta block at `start` when the tag section (which ends at `end`) opens with one. Answers
 * the meta and where the tags begin; undefined when the section holds tags only (the common case:
 * one byte compared).
 */
export function decodeMeta(
  bytes: Buffer,
  start: number,
  end: number,
): { meta: EntryMeta; tagsStart: number } | undefined {
  if (start >= end || bytes[start] !== MARKER) return undefined
  if (start + 2 > end) throw new CorruptEntryError('envelope meta block is truncated')
  const flags = bytes[start + 1]!
  if (flags === 0 || flags > (HAS_ETAG | HAS_LAST_MODIFIED)) {
    throw new CorruptEntryError(`envelope meta flags ${flags} are unknown`)
  }
  const meta: EntryMeta = {}
  let at = start + 2
  if (flags & HAS_LAST_MODIFIED) {
    if (at + 8 > end) throw new CorruptEntryError('envelope meta block is truncated')
    const lastModified = bytes.readDoubleBE(at)
    if (!Number.isFinite(lastModified)) throw new CorruptEntryError('envelope lastModified is not finite')
    meta.lastModified = lastModified
    at += 8
  }
  if (flags & HAS_ETAG) {
    if (at + 2 > end) throw new CorruptEntryError('envelope meta block is truncated')
    const length = bytes.readUInt16BE(at)
    at += 2
    if (at + length > end) throw new CorruptEntryError('envelope etag runs past the tags')
    meta.etag = bytes.toString('utf8', at, at + length)
    at += length
  }
  return { meta, tagsStart: at }
}
