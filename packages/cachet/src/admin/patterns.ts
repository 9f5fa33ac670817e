/**
 * Keys and patterns as the admin API accepts them: relative to the cache prefix (`dashboard:*`),
 * or already prefixed (`cache:dashboard:*`, the replaced Flask cache's form), which is stripped. The
 * engine puts the prefix back, so whatever the pattern, Redis only ever sees `${prefix}:<pattern>`. What
 * makes a key or pattern acceptable is the engine's rule set (core/keys.ts), applied in schemas.ts.
 */

/** Strips a leading `${prefix}:`. */
export function stripPrefix(input: string, prefix: string): string {
  return input.startsWith(`${prefix}:`) ? input.slice(prefix.length + 1) : input
}

/** True when the pattern is only stars (`*`, `**`…): it matches every key, so a full clear serves it. */
export function matchesEverything(pattern: string): boolean {
  return /^\*+$/.test(pattern)
}

/**
 * True when nothing literal comes before the pattern's first wildcard (`*`, `?*`, `*a*`, `[a-z]*`…):
 * it is confined to no namespace and may match every key, so deleting with it needs `confirm: true`.
 */
export function reachesEveryNamespace(pattern: string): boolean {
  return /^[*?[]/.test(pattern)
}
