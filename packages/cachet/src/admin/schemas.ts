import type { z as Zod } from 'zod'
import { type Duration, toMs } from '../core/duration.js'
import { InvalidKeyError, InvalidOptionError } from '../core/errors.js'
import { validateKey, validatePattern } from '../core/keys.js'
import { requirePeer } from '../core/peer.js'
import type { ResolvedLimits } from './options.js'
import { stripPrefix } from './patterns.js'
import { badRequest } from './responses.js'

const { z } = requirePeer<typeof import('zod')>('zod', 'cachet/admin')

const NAME = /^[A-Za-z0-9_.-]{1,64}$/
const MAX_TTL_MS = 365 * 86_400_000

/** A TTL in ms from a whole number of ms or a duration string (core/duration.ts); undefined when not in (0, 365 days]. */
function toTtlMs(input: number | string): number | undefined {
  if (typeof input === 'number' && !Number.isInteger(input)) return undefined
  let ms: number
  try {
    ms = toMs(input as Duration, 'ttl')
  } catch (error) {
    if (error instanceof InvalidOptionError) return undefined
    throw error
  }
  return ms > 0 && ms <= MAX_TTL_MS ? ms : undefined
}

/** The zod schemas of every admin request, bound to one cache prefix and one set of limits. */
export function createSchemas(prefix: string, limits: ResolvedLimits) {
  /** The input without the prefix, once the engine's rule `check` accepts it; else an issue naming why. */
  const engineRule = (check: (relative: string) => void) => (input: string, ctx: Zod.RefinementCtx) => {
    const relative = stripPrefix(input, prefix)
    try {
      check(relative)
    } catch (error) {
      if (!(error instanceof InvalidKeyError)) throw error
      ctx.issues.push({ code: 'custom', message: error.message, input })
      return z.NEVER
    }
    return relative
  }
  const key = z
    .string()
    .max(limits.keyLength + prefix.length + 1, `must be at most ${limits.keyLength} characters`)
    .transform(
      engineRule((relative) => {
        validateKey(relative)
        if (relative.length > limits.keyLength) {
          throw new InvalidKeyError(
            `cache key is ${relative.length} characters; the limit is ${limits.keyLength}`,
          )
        }
      }),
    )
  const pattern = z
    .string()
    .max(limits.patternLength + prefix.length + 1, `must be at most ${limits.patternLength} characters`)
    .transform(
      engineRule((relative) =>
        validatePattern(relative, { maxLength: limits.patternLength, maxWildcards: limits.patternWildcards }),
      ),
    )
  const tag = z
    .string()
    .min(1)
    .max(256)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'must not contain control characters')
  const flag = z.boolean().optional()
  const limit = z.coerce.number().int().min(1).max(100).optional()

  return {
    clear: z.strictObject({ pattern: pattern.optional(), confirm: flag, dryRun: flag }),
    clearAll: z.strictObject({ confirm: flag, dryRun: flag }),
    invalidate: z
      .strictObject({
        keys: z.array(key).max(limits.keysPerCall).optional(),
        patterns: z.array(pattern).max(limits.patternsPerCall).optional(),
        tags: z.array(tag).max(limits.patternsPerCall).optional(),
        /** 'expire' keeps the tags' entries as stale fail-safe copies; 'delete' (default) removes them. */
        tagMode: z.enum(['delete', 'expire']).optional(),
        confirm: flag,
        dryRun: flag,
      })
      .refine((body) => Boolean(body.keys?.length || body.patterns?.length || body.tags?.length), {
        message: 'give at least one of keys, patterns, tags',
        path: ['keys'],
      }),
    invalidatePattern: z.strictObject({ pattern, confirm: flag, dryRun: flag }),
    invalidateType: z.strictObject({ dryRun: flag }),
    typeParams: z.strictObject({
      type: z
        .string()
        .regex(
          /^(?!__)[A-Za-z0-9_.-]{1,64}$/,
          "must be 1-64 letters, digits, _ . - (not starting with '__')",
        ),
    }),
    warmup: z.strictObject({
      modules: z.array(z.string().regex(NAME, 'must be 1-64 letters, digits, _ . -')).max(64).optional(),
      force: flag,
      wait: flag,
    }),
    jobParams: z.strictObject({ jobId: z.string().regex(/^[a-f0-9-]{8,64}$/, 'is not a job id') }),
    historyQuery: z.strictObject({
      instance: z
        .string()
        .regex(/^(all|[0-9a-f]{8})$/, "must be 'all' or an instance id (8 hex digits)")
        .optional(),
    }),
    keysQuery: z.strictObject({
      pattern: pattern.optional(),
      limit,
      cursor: z
        .string()
        .regex(/^[0-9A-Za-z:._-]{1,128}$/, 'must be a cursor returned by a previous page')
        .optional(),
    }),
    keyParams: z.strictObject({ key }),
    patchKey: z.strictObject({
      ttl: z
        .union([z.number(), z.string().max(32)], {
          error: "must be milliseconds or a duration such as '30s', '5m', '2h', '7d'",
        })
        .transform((input, ctx) => {
          const ms = toTtlMs(input)
          if (ms !== undefined) return ms
          ctx.issues.push({
            code: 'custom',
            message: "must be more than 0 and at most 365 days: milliseconds or '30s', '5m', '2h', '7d'",
            input,
          })
          return z.NEVER
        }),
    }),
    auditQuery: z.strictObject({
      limit,
      cursor: z
        .string()
        .regex(/^\d{1,20}-\d{1,20}(-d)?$/, 'must be a nextCursor returned by a previous page')
        .optional(),
      action: z.string().regex(NAME, 'must be an action name').optional(),
      outcome: z.enum(['ok', 'denied', 'error', 'dry-run']).optional(),
      who: z
        .string()
        .min(1)
        .max(160)
        // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
        .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'must not contain control characters')
        .optional(),
    }),
  }
}

/** The schemas of one plugin instance. */
export type Schemas = ReturnType<typeof createSchemas>

/**
 * Validates `value` (the request's body, query or params) or throws a 400 whose message names the
 * field: `body.patterns.2: must contain at most 8 wildcards`.
 */
export function parse<S extends Zod.ZodType>(schema: S, value: unknown, where: string): Zod.output<S> {
  const result = schema.safeParse(value ?? {})
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  const field = [where, ...issue.path.map(String)].join('.')
  throw badRequest(field, issue.message)
}
