import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  gunzipSync,
  gzipSync,
  inflateSync,
} from 'node:zlib'
import type { CompressionOptions } from '../types.js'

/** Header compression ids (bits 0-1 of the format byte). */
export const COMPRESSION_ID = { none: 0, gzip: 1, brotli: 2 } as const

/**
 * Compresses a payload synchronously with the configured algorithm and level. Undefined when the output
 * would exceed `maxOutputLength`: zlib stops there, so a large payload that compresses poorly costs
 * only the work of producing that much output.
 */
export function compress(
  payload: Buffer,
  options: CompressionOptions,
  maxOutputLength?: number,
): Buffer | undefined {
  try {
    if (options.algorithm === 'gzip') return gzipSync(payload, { level: options.level, maxOutputLength })
    return brotliCompressSync(payload, {
      maxOutputLength,
      params: {
        [constants.BROTLI_PARAM_QUALITY]: options.level,
        [constants.BROTLI_PARAM_SIZE_HINT]: payload.length,
      },
    })
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return undefined
    throw error
  }
}

/**
 * Decompresses a payload. `maxOutputLength` bounds the output, so a small hostile "zip bomb" in Redis
 * fails with an error instead of exhausting memory.
 */
export function decompress(payload: Buffer, compressionId: number, maxOutputLength: number): Buffer {
  if (compressionId === COMPRESSION_ID.gzip) return gunzipSync(payload, { maxOutputLength })
  return brotliDecompressSync(payload, { maxOutputLength })
}

/**
 * True when the bytes open a zlib stream as Python's `zlib.compress` writes it (docs/architecture.md): CMF
 * 0x78 (deflate, 32 KiB window), no preset dictionary, and the header checksum RFC 1950 asks for. 0x78
 * ('x') starts neither a JSON text nor a cachet envelope, so the test cannot mistake one for the other.
 */
export function isZlibStream(bytes: Buffer): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x78) return false
  const flags = bytes[1]!
  return (flags & 0x20) === 0 && ((0x78 << 8) | flags) % 31 === 0
}

/** Inflates a zlib stream, bounded like decompress(). */
export function inflateZlib(payload: Buffer, maxOutputLength: number): Buffer {
  return inflateSync(payload, { maxOutputLength })
}
