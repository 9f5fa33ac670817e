import type { Redis } from 'ioredis'
import { parseInfo } from '../tiers/redis/info.js'
import { JournalNotDurableError } from './errors.js'

/** How durable the journal Redis is, as it reports itself. */
export interface JournalDurability {
  aof: boolean
  /** `always` | `everysec` | `no`, or `unknown` when CONFIG is not allowed to this user. */
  appendfsync: string
  maxmemoryPolicy: string
}

/** Reads the journal Redis' persistence and eviction settings (INFO; CONFIG GET for appendfsync). */
export async function readDurability(journal: Redis): Promise<JournalDurability> {
  const info = parseInfo(
    await journal.info('persistence').then(async (p) => p + (await journal.info('memory'))),
  )
  let appendfsync = 'unknown'
  try {
    const reply = (await journal.config('GET', 'appendfsync')) as string[]
    appendfsync = reply[1] ?? 'unknown'
  } catch {
    // An ACL user without CONFIG: the rest of the check still holds.
  }
  return {
    aof: info.aof_enabled === '1',
    appendfsync,
    maxmemoryPolicy: info.maxmemory_policy ?? 'unknown',
  }
}

/** Throws JournalNotDurableError, naming every setting to change, unless the journal keeps what it acknowledges. */
export function assertDurable(durability: JournalDurability, fsyncAlways = false): void {
  const problems: string[] = []
  if (fsyncAlways && durability.appendfsync !== 'always') {
    problems.push(
      `appendfsync is ${durability.appendfsync}, so an acknowledged write can be lost in a crash: set appendfsync always`,
    )
  }
  if (durability.maxmemoryPolicy !== 'noeviction') {
    problems.push(
      `maxmemory-policy is ${durability.maxmemoryPolicy}, so Redis may evict the journal: set maxmemory-policy noeviction`,
    )
  }
  if (!durability.aof) {
    problems.push('appendonly is no, so a restart empties the journal: set appendonly yes')
  }
  if (problems.length > 0) {
    throw new JournalNotDurableError(
      `the write-behind journal Redis would lose acknowledged writes: ${problems.join('; ')} ` +
        '(or give the journal its own Redis; see docs/write-behind.md)',
    )
  }
}
