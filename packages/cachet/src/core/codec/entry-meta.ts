import { CorruptEntryError } from '../errors.js'
import type { EntryMeta } from '../types.js'

/*
 * An entry's validators (ETag, Last-Modified) ride at the start of the envelope's tag section, so the
 * fixed header (which the Lua scripts read) is unchanged and an entry without them is byte for byte
 * what it was (docs/architecture.md). The block is one line of text, like a tag:
 *   NUL, then JSON `{"e":etag,"m":lastModified epoch ms}` (either member may be absent), then a '\n'
 *   when tags follow.
 * A tag is never empty and never contains NUL, so a tag section never starts so. A cachet that predates
 * the block reads it as one more tag (which nothing invalidates) and keeps the real tags; when it
 * rewrites the section (expire, addTags) it joins the same lines back, so the block survives unchanged.
 */
const MARKER = 0x00
const NEWLINE = 0x0a

/** Longest ETag kept, in UTF-8 bytes (real ones are a few dozen). */
export const MAX_ETAG_BYTES = 1024

/** The meta block's bytes (without the '\n' before the tags); undefined when there is nothing to store. */
export function encodeMeta(meta: EntryMeta | undefined): Buffer | undefined {
  if (meta === undefined) return undefined
  const { etag, lastModified } = meta
  if (etag === undefined && lastModified === undefined) return undefined
  // JSON escapes every control character, so the line never holds a raw '\n' or NUL of its own.
  return Buffer.from(`\u0000${JSON.stringify({ e: etag, m: lastModified })}`, 'utf8')
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
  // Within the tag section only: the payload after it may be a megabyte.
  const newline = bytes.subarray(start, end).indexOf(NEWLINE)
  const lineEnd = newline === -1 ? end : start + newline
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString('utf8', start + 1, lineEnd))
  } catch {
    throw new CorruptEntryError('envelope meta block is not JSON')
  }
  const { e: etag, m: lastModified } = (parsed ?? {}) as { e?: unknown; m?: unknown }
  const meta: EntryMeta = {}
  if (etag !== undefined) {
    if (typeof etag !== 'string' || etag === '') throw new CorruptEntryError('envelope etag is not a string')
    meta.etag = etag
  }
  if (lastModified !== undefined) {
    if (typeof lastModified !== 'number' || !Number.isFinite(lastModified)) {
      throw new CorruptEntryError('envelope lastModified is not finite')
    }
    meta.lastModified = lastModified
  }
  if (meta.etag === undefined && meta.lastModified === undefined) {
    throw new CorruptEntryError('envelope meta block is empty')
  }
  return { meta, tagsStart: lineEnd === end ? end : lineEnd + 1 }
}
