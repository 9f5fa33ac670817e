import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compileGlob } from '../../src/core/glob.js'
import { startRedis, type TestRedis } from '../helpers/redis-server.js'

let redis: TestRedis
let client: Redis
beforeAll(async () => {
  redis = await startRedis()
  client = new Redis(redis.url)
})
afterAll(async () => {
  client.disconnect()
  await redis.stop()
})

async function scanMatch(pattern: string): Promise<Set<string>> {
  const found = new Set<string>()
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    for (const key of keys) found.add(key)
    cursor = next
  } while (cursor !== '0')
  return found
}

// Glob metacharacters, letters for ranges, and non-ASCII characters (Redis compares bytes).
const unit = fc.constantFrom(
  '*',
  '?',
  '[',
  ']',
  '^',
  '-',
  '\\',
  'a',
  'b',
  'z',
  ':',
  'é',
  '\u00ff',
  '\u{1f600}',
)

describe('compileGlob agrees with Redis SCAN MATCH', () => {
  it('on bytes: non-ASCII characters and range bounds (signed chars)', async () => {
    const keys = ['a', 'b', 'A', 'x', '\u00ff', 'é', '\u00c3', '\u0080', '\u{1f600}', 'ab', 'éé']
    await client.mset(keys.flatMap((key) => [key, '1']))
    try {
      for (const pattern of [
        '[a-é]*',
        '[é-a]',
        '[\u00ff-a]*',
        '?[\u0080-\u00bf]',
        '[^a-é]*',
        '*[é]',
        '??',
        '?',
      ]) {
        expect(new Set(keys.filter(compileGlob(pattern))), pattern).toEqual(await scanMatch(pattern))
      }
    } finally {
      await client.del(...keys)
    }
  })

  it('over random patterns and keys', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit, maxLength: 12 }),
        fc.uniqueArray(fc.string({ unit, maxLength: 8 }), { minLength: 1, maxLength: 12 }),
        async (pattern, keys) => {
          await client.mset(keys.flatMap((key) => [key, '1']))
          try {
            const match = compileGlob(pattern)
            const expected = await scanMatch(pattern)
            expect(new Set(keys.filter((key) => match(key)))).toEqual(expected)
          } finally {
            await client.del(...keys)
          }
        },
      ),
      { numRuns: 1_000 },
    )
  })
})
