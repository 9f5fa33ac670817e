/**
 * Every error cachet throws. Each class has a stable `code` (documented in docs/errors.md),
 * a message that names the problem, and the offending key or option where there is one.
 */
export class CachetError extends Error {
  static readonly code: string = 'E_CACHET'
  readonly code: string
  readonly key?: string

  constructor(message: string, options: { key?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = (new.target as typeof CachetError).code
    if (options.key !== undefined) this.key = options.key
  }
}

/** A key is empty, too long, not a string, or uses a reserved form. */
export class InvalidKeyError extends CachetError {
  static override readonly code = 'E_INVALID_KEY'
}

/** An option (duration, size, rule…) has a value cachet cannot use. */
export class InvalidOptionError extends CachetError {
  static override readonly code = 'E_INVALID_OPTION'
}

/** A value cannot be serialized (a function, a symbol, a cycle…) or is too large. */
export class SerializationError extends CachetError {
  static override readonly code = 'E_SERIALIZATION'
}

/** A loader resolved `undefined`, which cachet reserves for "no value". Return `null` instead. */
export class UndefinedValueError extends CachetError {
  static override readonly code = 'E_UNDEFINED_VALUE'
}

/** A loader ran past its hard timeout and no stale value could be served. */
export class LoaderTimeoutError extends CachetError {
  static override readonly code = 'E_LOADER_TIMEOUT'
}

/**
 * A loader reported a failure through `ctx.fail()` without an error of its own, or called
 * `ctx.notModified()` with no stale entry to renew.
 */
export class LoaderFailedError extends CachetError {
  static override readonly code = 'E_LOADER_FAILED'
}

/** A loader returned a value its call's (or namespace's) `schema` refuses; nothing was cached. */
export class SchemaMismatchError extends CachetError {
  static override readonly code = 'E_SCHEMA_MISMATCH'
}

/** Redis did not answer in time, answered with an error, or the circuit is open. Never reaches a getOrSet caller. */
export class L2Error extends CachetError {
  static override readonly code = 'E_L2'
  /** 'circuit-open': nothing was sent; 'timeout': no answer by the deadline; 'failed': Redis or the link failed. */
  readonly reason: L2FailureReason

  constructor(message: string, options: { key?: string; cause?: unknown; reason?: L2FailureReason } = {}) {
    super(message, options)
    this.reason = options.reason ?? 'failed'
  }
}

/** Why an L2 call failed (see L2Error.reason). */
export type L2FailureReason = 'circuit-open' | 'timeout' | 'failed'

/** Stored bytes cannot be decoded (bad header, truncated, bad compression or payload). The engine treats it as a miss. */
export class CorruptEntryError extends CachetError {
  static override readonly code = 'E_CORRUPT_ENTRY'
}

/** The cache was closed; no further calls are accepted. */
export class CacheClosedError extends CachetError {
  static override readonly code = 'E_CACHE_CLOSED'
}

/** A subpath was used without the package it integrates with (e.g. `cachet/nestjs` without `@nestjs/common`). */
export class MissingPeerError extends CachetError {
  static override readonly code = 'E_MISSING_PEER'
}

/** The error classes, by name, for `instanceof` checks. */
export const errors = {
  CachetError,
  MissingPeerError,
  InvalidKeyError,
  InvalidOptionError,
  SerializationError,
  UndefinedValueError,
  LoaderTimeoutError,
  LoaderFailedError,
  SchemaMismatchError,
  L2Error,
  CorruptEntryError,
  CacheClosedError,
} as const

/** The message of anything thrown: an Error's message, anything else as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
