/**
 * JSON.parse that cannot be used for prototype pollution (docs/reliability.md S11), after
 * fastify/secure-json-parse: parse with no reviver, and only when the text could hold `__proto__` or
 * `constructor` (spelled out or hidden behind a \u escape) walk the result and drop those keys.
 * Typical cached JSON holds neither, so reads cost a bare JSON.parse plus three substring scans.
 */
export function parseSafeJson(text: string): unknown {
  const value: unknown = JSON.parse(text)
  if (
    value !== null &&
    typeof value === 'object' &&
    (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u'))
  ) {
    stripPollutionDeep(value)
  }
  return value
}

/** True for the keys secure-json-parse drops: `__proto__`, and `constructor` holding a `prototype`. */
export function isPollutingKey(key: string, value: unknown): boolean {
  if (key === '__proto__') return true
  return (
    key === 'constructor' && typeof value === 'object' && value !== null && Object.hasOwn(value, 'prototype')
  )
}

/** Drops the polluting own keys of one object (not its children). */
export function stripPollution(object: Record<string, unknown>): void {
  if (Object.hasOwn(object, '__proto__')) Reflect.deleteProperty(object, '__proto__')
  if (Object.hasOwn(object, 'constructor') && isPollutingKey('constructor', object.constructor)) {
    Reflect.deleteProperty(object, 'constructor')
  }
}

/** Iterative, so a hostile 100,000-deep document cannot overflow the stack here. */
function stripPollutionDeep(root: object): void {
  const stack: object[] = [root]
  while (stack.length > 0) {
    const node = stack.pop() as Record<string, unknown>
    if (!Array.isArray(node)) stripPollution(node)
    for (const key of Object.keys(node)) {
      const child = node[key]
      if (child !== null && typeof child === 'object') stack.push(child)
    }
  }
}
