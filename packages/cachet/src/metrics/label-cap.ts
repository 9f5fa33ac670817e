/**
 * Bounds the values of one Prometheus label: the first `max` distinct values are kept, later ones
 * become 'other'. Keys are attacker-influenced (user ids in keys), so an unbounded namespace label
 * would let traffic grow the registry without limit.
 */
export function createLabelCap(max: number): (value: string | undefined) => string {
  const seen = new Set<string>()
  return (value) => {
    if (!value) return 'none'
    const clean = value.slice(0, 64).replace(/[^A-Za-z0-9_.-]/g, '_')
    if (seen.has(clean)) return clean
    if (seen.size >= max) return 'other'
    seen.add(clean)
    return clean
  }
}
