/** `cachet/write-behind`: write-through, and a write-behind journaled on a durable Redis. */

export { JournalNotDurableError, WriteBehindStoppedError } from './errors.js'
export { idVersion } from './journal.js'
export type { JournalDurability } from './journal-check.js'
export type { FlushItem, WriteBehind, WriteBehindHealth, WriteBehindOptions } from './types.js'
export { createWriteBehind } from './write-behind.js'
export { type WriteThroughOptions, writeThrough } from './write-through.js'
