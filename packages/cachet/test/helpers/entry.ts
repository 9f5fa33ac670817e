import { newVersion } from '../../src/core/codec/envelope.js'
import type { Entry } from '../../src/core/types.js'

/** An entry with fixed timestamps, two tags and a fresh version, for codec tests. */
export function entry<T>(value: T, overrides: Partial<Entry<T>> = {}): Entry<T> {
  return {
    value,
    createdAt: 1_700_000_000_000,
    freshUntil: 1_700_000_300_000,
    staleUntil: 1_700_003_600_000,
    tags: ['revenue', 'orders'],
    version: newVersion(),
    loadMs: 42,
    ...overrides,
  }
}
