/** Numbers, booleans, bigints and null take at least one byte; undefined, functions and symbols none. */
const SCALAR_BYTES: Partial<Record<string, number>> = { number: 1, boolean: 1, bigint: 1, object: 1 }
/** Nesting below which the walk stops counting: what lies deeper only makes the value larger. */
const MAX_DEPTH = 1_000

/**
 * True when the value's serialised form (JSON, tagged JSON or msgpack) surely exceeds `limit` bytes,
 * decided without serialising it. The walk adds up a lower bound of the output (a string's length, an
 * array's length, one byte per number, a key's length per property) and stops as soon as the
 * sum passes the limit, so deciding costs at most about `limit` bytes' worth of walking, however
 * large the value. Anything it cannot size cheaply (an object with toJSON, a cycle) counts one byte:
 * the serialiser then decides, as without this check.
 */
export function exceedsBytes(value: unknown, limit: number): boolean {
  let total = 0
  const ancestors = new Set<object>()

  /** Returns true once the running total has passed the limit. */
  const visit = (node: unknown, depth: number): boolean => {
    if (typeof node === 'string') total += node.length + 1
    else if (typeof node !== 'object' || node === null) total += SCALAR_BYTES[typeof node] ?? 0
    else if (ArrayBuffer.isView(node) && !(node instanceof DataView)) {
      // Buffers and typed arrays: at least one byte per element in JSON and in msgpack.
      total += (node as unknown as ArrayLike<unknown>).length + 1
    } else if (depth >= MAX_DEPTH || ancestors.has(node) || hasToJson(node)) total += 1
    else {
      total += 1
      ancestors.add(node)
      const over = visitChildren(node, depth + 1)
      ancestors.delete(node)
      if (over) return true
    }
    return total > limit
  }

  const visitChildren = (node: object, depth: number): boolean => {
    if (Array.isArray(node)) {
      // An undefined item (or a hole) is written as null: one byte at least, in JSON and in msgpack.
      for (const item of node) if (visit(item ?? null, depth)) return true
    } else if (node instanceof Map) {
      for (const [key, item] of node) if (visit(key, depth) || visit(item, depth)) return true
    } else if (node instanceof Set) {
      for (const item of node) if (visit(item, depth)) return true
    } else {
      for (const key of Object.keys(node)) {
        const item = (node as Record<string, unknown>)[key]
        // JSON drops an undefined property, key and all.
        if (item === undefined) continue
        total += key.length + 1
        if (visit(item, depth)) return true
      }
    }
    return false
  }

  return visit(value, 0)
}

/** Dates, and any object JSON serialises through its own toJSON (its output size is unknown here). */
function hasToJson(node: object): boolean {
  return typeof (node as { toJSON?: unknown }).toJSON === 'function'
}
