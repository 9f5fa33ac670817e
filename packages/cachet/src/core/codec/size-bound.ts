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
  return visit(value, 0, { total: 0, limit, ancestors: [] })
}

/** The running sum; `ancestors` are the objects on the current path (a cycle stops there). */
interface Walk {
  total: number
  limit: number
  ancestors: object[]
}

/** Adds the node's share; true once the running total has passed the limit. */
function visit(node: unknown, depth: number, walk: Walk): boolean {
  if (typeof node === 'string') walk.total += node.length + 1
  else if (typeof node !== 'object' || node === null) walk.total += SCALAR_BYTES[typeof node] ?? 0
  else if (ArrayBuffer.isView(node) && !(node instanceof DataView)) {
    // Buffers and typed arrays: at least one byte per element in JSON and in msgpack.
    walk.total += (node as unknown as ArrayLike<unknown>).length + 1
  } else if (depth >= MAX_DEPTH || hasToJson(node) || walk.ancestors.includes(node)) walk.total += 1
  else {
    walk.total += 1
    walk.ancestors.push(node)
    const over = visitChildren(node, depth + 1, walk)
    walk.ancestors.pop()
    if (over) return true
  }
  return walk.total > walk.limit
}

function visitChildren(node: object, depth: number, walk: Walk): boolean {
  if (Array.isArray(node)) {
    // An undefined item (or a hole) is written as null: one byte at least, in JSON and in msgpack.
    for (const item of node) if (visit(item ?? null, depth, walk)) return true
  } else if (node instanceof Map) {
    for (const [key, item] of node) if (visit(key, depth, walk) || visit(item, depth, walk)) return true
  } else if (node instanceof Set) {
    for (const item of node) if (visit(item, depth, walk)) return true
  } else {
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue
      const item = (node as Record<string, unknown>)[key]
      // JSON drops an undefined property, key and all.
      if (item === undefined) continue
      walk.total += key.length + 1
      if (visit(item, depth, walk)) return true
    }
  }
  return false
}

/** Dates, and any object JSON serialises through its own toJSON (its output size is unknown here). */
function hasToJson(node: object): boolean {
  return typeof (node as { toJSON?: unknown }).toJSON === 'function'
}
