import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib'
import type { CompressionOptions } from '../types.js'

/** Header compression ids (bits 0-1 of the format byte). */
export const COMPRESSION_ID = { none: 0, gzip: 1, brotli: 2 } as const

/** Compresses a payload synchronously with the configured algorithm and level. */
export function compress(payload: Buffer, options: CompressionOptions): Buffer {
  if (options.algorithm === 'gzip') return gzipSync(payload, { level: options.level })
  return brotliCompressSync(payload, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: options.level,
      [constants.BROTLI_PARAM_SIZE_HINT]: payload.length,
    },
  })
}

/**
 * Decompresses a payload. `maxOutputLength` bounds the output, so a small hostile "zip bomb" in Redis
 * fails with an error instead of exhausting memory.
 */
export function decompress(payload: Buffer, compressionId: number, maxOutputLength: number): Buffer {
  if (compressionId === COMPRESSION_ID.gzip) return gunzipSync(payload, { maxOutputLength })
  return brotliDecompressSync(payload, { maxOutputLength })
}
