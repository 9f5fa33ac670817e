/** Minimal envelope-shaped bytes for tier tests: format byte, 16-char version, then a payload. */

/** Format byte of a live entry: envelope version 1, json, uncompressed. */
const ENTRY = 0x20
/** Format byte of a tombstone: envelope version 1 with the tombstone bit. */
const TOMBSTONE = 0x30

/** A 16-hex-char version from a small number. */
export function version(n: number): string {
  return n.toString(16).padStart(16, '0')
}

/** Bytes of a live entry with this version and payload. */
export function entryBytes(ver: string, payload = 'value'): Buffer {
  return Buffer.concat([Buffer.from([ENTRY]), Buffer.from(ver, 'ascii'), Buffer.from(payload)])
}

/** Bytes of a tombstone with this version. */
export function tombstoneBytes(ver: string): Buffer {
  return Buffer.concat([Buffer.from([TOMBSTONE]), Buffer.from(ver, 'ascii')])
}

/** True when the bytes are a tombstone. */
export function isTombstone(bytes: Buffer | null | undefined): boolean {
  return bytes !== null && bytes !== undefined && bytes[0] === TOMBSTONE
}
