/** The codec: serializers, compression and the entry envelope. */
export { COMPRESSION_ID, compress, decompress } from './compression.js'
export {
  type Codec,
  type CodecOptions,
  createCodec,
  decodedSize,
  isCompressed,
  isTombstone,
  newVersion,
  readVersion,
} from './envelope.js'
export { deserializeJson, JSON_PLAIN_ID, JSON_TAGGED_ID, serializeJson } from './json-serializer.js'
export { MSGPACK_ID, msgpackSerializer } from './msgpack-serializer.js'
