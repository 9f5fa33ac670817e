import type { Packr } from 'msgpackr'
import { SerializationError } from '../errors.js'
import { requirePeer } from '../peer.js'
import type { Serializer } from '../types.js'

/** Header serializer id of msgpack. */
export const MSGPACK_ID = 2

/*
 * useRecords: false writes standard msgpack maps (no msgpackr-only record structures), so other msgpack
 * readers can decode it. moreTypes adds Set, Error, RegExp and typed arrays. Date, BigInt, undefined,
 * NaN and ±Infinity survive natively. A Map is packed like any msgpack map and read back as a plain
 * object (string keys): use the json serializer when Maps must round-trip. msgpackr reads a
 * `__proto__` key back as `__proto_`, so it cannot pollute prototypes.
 */
let packr: Packr | undefined
/** msgpackr is an optional peer: loaded on the first msgpack value, so JSON users never need it. */
function packer(): Packr {
  packr ??= new (requirePeer<typeof import('msgpackr')>('msgpackr', "serializer: 'msgpack'").Packr)({
    useRecords: false,
    moreTypes: true,
  })
  return packr
}

/** msgpack (msgpackr): compact, binary-safe (Buffers and typed arrays round-trip). */
export const msgpackSerializer: Serializer = {
  id: MSGPACK_ID,
  serialize(value: unknown): Buffer {
    rejectUnpackable(value)
    try {
      return packer().pack(value)
    } catch (error) {
      throw new SerializationError(`value cannot be serialized as msgpack: ${(error as Error).message}`, {
        cause: error,
      })
    }
  },
  deserialize(bytes: Buffer): unknown {
    return packer().unpack(bytes)
  },
}

/** msgpackr silently writes functions and symbols as nil and recurses forever on cycles; refuse instead. */
function rejectUnpackable(root: unknown): void {
  const ancestors = new Set<object>()
  const visit = (value: unknown): void => {
    if (typeof value === 'function' || typeof value === 'symbol') {
      throw new SerializationError(`value contains a ${typeof value}; it cannot be cached`)
    }
    if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || value instanceof Date)
      return
    if (ancestors.has(value))
      throw new SerializationError('value contains a circular reference; it cannot be cached')
    ancestors.add(value)
    const children =
      value instanceof Map
        ? [...value.keys(), ...value.values()]
        : value instanceof Set
          ? [...value]
          : Object.values(value)
    for (const child of children) visit(child)
    ancestors.delete(value)
  }
  visit(root)
}
