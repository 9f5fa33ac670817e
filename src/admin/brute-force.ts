/** Counts failed authentications per client IP and blocks an IP once it has too many (RELIABILITY S13). */
export interface FailureLimiter {
  /** Milliseconds until the IP may try again; 0 when it is not blocked. */
  blockedFor(ip: string): number
  /** Records one failed attempt from the IP. */
  fail(ip: string): void
  /** True for the first refusal of a blocked IP in its window, false after: one audit record per block. */
  firstRefusal(ip: string): boolean
}

const MAX_TRACKED_IPS = 10_000

/**
 * A fixed window per IP: the first failure opens a window of `windowMs`; `maxFailures` failures in
 * it block the IP until the window ends. The map is bounded, oldest first out, so a spray of
 * spoofed source addresses cannot grow memory without bound.
 */
export function createFailureLimiter(maxFailures: number, windowMs: number, now = Date.now): FailureLimiter {
  const windows = new Map<string, { start: number; failures: number; refused?: boolean }>()
  const current = (ip: string) => {
    const window = windows.get(ip)
    if (window && now() - window.start >= windowMs) {
      windows.delete(ip)
      return undefined
    }
    return window
  }
  return {
    blockedFor(ip) {
      const window = current(ip)
      return window && window.failures >= maxFailures ? window.start + windowMs - now() : 0
    },
    fail(ip) {
      const window = current(ip)
      if (window) {
        window.failures++
        return
      }
      if (windows.size >= MAX_TRACKED_IPS) windows.delete(windows.keys().next().value!)
      windows.set(ip, { start: now(), failures: 1 })
    },
    firstRefusal(ip) {
      const window = current(ip)
      if (!window || window.refused) return false
      window.refused = true
      return true
    },
  }
}
