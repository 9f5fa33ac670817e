import { isIPv6 } from 'node:net'
import { FixedWindows, type WindowStart } from './fixed-windows.js'

/** Counts failed credentials per client address and limits an address once it has too many. */
export interface FailureLimiter {
  /** Milliseconds until the address may fail again without a 429; 0 when it is not limited. */
  blockedFor(address: string): number
  /** Records one failed credential from the address. */
  fail(address: string): void
}

/** Addresses tracked at most: a spray of spoofed or rotating addresses cannot grow memory without bound. */
const MAX_TRACKED_ADDRESSES = 10_000

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::')
  const parse = (part: string) =>
    part
      .split(':')
      .filter((group) => group !== '')
      .flatMap((group) => {
        if (!group.includes('.')) return [Number.parseInt(group, 16).toString(16)]
        const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number)
        return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)]
      })
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  return [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
}

/**
 * What the limiter (and the denial records) key a client on: an IPv4 address as is, an IPv4-mapped
 * IPv6 address as its IPv4 address, any other IPv6 address by its /64 (one subscriber usually holds
 * a whole /64, so rotating the low 64 bits must not give fresh addresses).
 */
export function addressKey(ip: string): string {
  const bare = ip.split('%', 1)[0]!
  if (!isIPv6(bare)) return ip
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare)
  if (mapped) return mapped[1]!
  return `${ipv6Groups(bare.toLowerCase()).slice(0, 4).join(':')}::/64`
}

interface Window extends WindowStart {
  failures: number
}

/**
 * A fixed window per address: the first failure opens a window of `windowMs`; once `maxFailures`
 * failures fall in it, further failures from the address answer 429 until the window ends.
 *
 * The table holds at most `maxTracked` addresses. When it is full, expired windows go first, then
 * the oldest address that is not limited; a limited address is never evicted, so spraying new
 * addresses cannot lift one's own limit. When every tracked address is limited, a new address is
 * limited too until the oldest window ends: the correct credential is checked before the limiter,
 * so this costs a real admin nothing.
 */
export function createFailureLimiter(
  maxFailures: number,
  windowMs: number,
  now: () => number = Date.now,
  maxTracked = MAX_TRACKED_ADDRESSES,
): FailureLimiter {
  let limited = 0
  const windows = new FixedWindows<Window>(windowMs, now, (_address, window) => {
    if (window.failures >= maxFailures) limited--
  })

  /** True when every slot is taken by a limited address. */
  const saturated = () => {
    windows.closeEnded()
    return windows.size >= maxTracked && limited >= windows.size
  }
  const makeRoom = () => {
    if (saturated()) return false
    if (windows.size < maxTracked) return true
    for (const [address, window] of windows.entries()) {
      if (window.failures < maxFailures) {
        windows.close(address, window)
        return true
      }
    }
    return false
  }

  return {
    blockedFor(address) {
      const window = windows.get(address)
      if (window) return window.failures >= maxFailures ? window.start + windowMs - now() : 0
      if (!saturated()) return 0
      const oldest = windows.oldest()!
      return Math.max(1, oldest.start + windowMs - now())
    },
    fail(address) {
      const window = windows.get(address)
      if (window) {
        window.failures++
        if (window.failures === maxFailures) limited++
        return
      }
      if (!makeRoom()) return
      windows.open(address, { start: now(), failures: 1 })
      if (maxFailures <= 1) limited++
    },
  }
}
