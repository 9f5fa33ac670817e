import { InvalidOptionError } from './errors.js'

/** The units a duration string may end with: milliseconds, seconds, minutes, hours, days, weeks. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd' | 'w'

/**
 * A duration: a number of milliseconds, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'2h'`, `'7d'`
 * (a space before the unit is allowed). The type refuses `'5 minutes'` at compile time; toMs() refuses
 * anything else (negative, not finite) at run time with InvalidOptionError.
 */
export type Duration = number | `${number}${DurationUnit}` | `${number} ${DurationUnit}`

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/

/**
 * Turns a Duration into whole milliseconds, once, at the API edge.
 * Throws InvalidOptionError naming `name` when the input is not a finite, non-negative duration.
 */
export function toMs(input: Duration, name = 'duration'): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) {
      throw new InvalidOptionError(`${name} must be a non-negative number of milliseconds, got ${input}`)
    }
    return Math.round(input)
  }
  if (typeof input === 'string') {
    const match = PATTERN.exec(input.trim())
    if (match) return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!)
  }
  throw new InvalidOptionError(
    `${name} must be milliseconds or a string like '30s', '5m', '2h', '7d'; got ${JSON.stringify(input)}`,
  )
}

/** Like toMs, but `false` (or 0) means "off" and yields 0. */
export function toMsOrOff(input: Duration | false | undefined, fallback: number, name: string): number {
  if (input === undefined) return fallback
  if (input === false) return 0
  return toMs(input, name)
}
