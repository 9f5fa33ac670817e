import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const fixture = fileURLToPath(new URL('./fixtures/l1-memory.ts', import.meta.url))

describe('L1 memory stays within its byte budget (RELIABILITY M1)', () => {
  it('100,000 distinct 1 KB entries into a 16 MiB L1: the heap grows by at most 1.25 × the budget', async () => {
    const maxBytes = 16 * 1024 * 1024
    const { stdout } = await run(process.execPath, [
      '--expose-gc',
      '--import',
      'tsx',
      fixture,
      String(maxBytes),
      '100000',
    ])
    const { growth, l1Bytes, l1Size } = JSON.parse(stdout.trim().split('\n').pop()!)
    expect(l1Bytes).toBeLessThanOrEqual(maxBytes)
    expect(l1Size).toBeLessThan(100_000) // it evicted: the budget, not the key count, bounds it
    expect(growth).toBeLessThan(1.25 * maxBytes)
  }, 120_000)
})
