/**
 * How long an entry stays fresh, and how long it is still served stale, from now (ms). Computed by
 * the server so the page does not depend on the browser's clock. Empty for data cachet did not write.
 */
export function remainingLifetime(
  entry: { freshUntil?: number; staleUntil?: number },
  now = Date.now(),
): { freshForMs?: number; staleForMs?: number } {
  if (entry.freshUntil === undefined || entry.staleUntil === undefined) return {}
  return {
    freshForMs: Math.max(0, Math.round(entry.freshUntil - now)),
    staleForMs: Math.max(0, Math.round(entry.staleUntil - now)),
  }
}
