import { readFileSync } from 'node:fs'
import { deflateSync } from 'node:zlib'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCodec } from '../../src/core/codec/envelope.js'
import { CorruptEntryError } from '../../src/core/errors.js'
import { createCache } from '../../src/index.js'
import { RELAXED_L2, startRedis, type TestRedis } from '../helpers/redis-server.js'

/*
 * Seed 001's Flask cache stores a response above 1 KB as `zlib.compress(json.dumps(data).encode(), 6)`
 * (COMPRESSION_CONFIG: min_size 1024, level 6) under `cache:{type}:{md5}`. The .zlib fixture was written by
 * Python 3's zlib.compress itself (zlib 1.2.13); the .txt beside it is the JSON text it compressed.
 */
const fixtures = new URL('../core/fixtures/', import.meta.url)
const pythonBytes = readFileSync(new URL('seed001-dashboard.zlib', fixtures))
const text = readFileSync(new URL('seed001-dashboard.txt', fixtures))
const dashboard = JSON.parse(text.toString('utf8'))

let redis: TestRedis
let raw: Redis
beforeAll(async () => {
  redis = await startRedis()
  raw = new Redis(redis.url)
})
afterAll(async () => {
  raw.disconnect()
  await redis.stop()
})

describe("values seed 001's Flask cache wrote (zlib.compress level 6 of JSON)", () => {
  const codec = createCodec({ serializer: 'json', compression: false })

  it('decodes the bytes Python wrote as a fresh entry with the JSON value', () => {
    expect(pythonBytes.subarray(0, 2)).toEqual(Buffer.from([0x78, 0x9c]))
    const stored = codec.decode(pythonBytes)
    expect(stored).toMatchObject({ kind: 'entry', entry: { value: dashboard, tags: [], version: '' } })
  })

  it("decodes another zlib's level-6 stream of the same text (Node's zlib 1.3 picks other matches)", () => {
    const nodeBytes = deflateSync(text, { level: 6 })
    expect(codec.decode(nodeBytes)).toMatchObject({ kind: 'entry', entry: { value: dashboard } })
  })

  it('reads the seed key under the prefix through the whole cache, from L2 and then L1', async () => {
    const cache = createCache({ redis: redis.url, prefix: 'cache', logger: false, l2: RELAXED_L2 })
    const key = 'dashboard:a7f3e9b2c1d4e5f6a7b8c9d0e1f2a3b4'
    await raw.set(`cache:${key}`, pythonBytes, 'EX', 300)
    expect(await cache.get(key)).toEqual(dashboard)
    expect(await cache.get(key)).toEqual(dashboard)
    expect(cache.stats().errors).toBe(0)
    await cache.close()
  })

  it('refuses a zlib bomb and a broken stream as corrupt, never inflating past the bound', () => {
    const bounded = createCodec({ serializer: 'json', compression: false, maxPayloadBytes: 1024 })
    const bomb = deflateSync(Buffer.from(`"${'a'.repeat(1_000_000)}"`), { level: 6 })
    expect(() => bounded.decode(bomb)).toThrow(CorruptEntryError)
    expect(() => codec.decode(pythonBytes.subarray(0, pythonBytes.length - 20))).toThrow(CorruptEntryError)
    expect(() => codec.decode(deflateSync(Buffer.from('not json'), { level: 6 }))).toThrow(CorruptEntryError)
  })
})
