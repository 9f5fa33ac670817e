import { createHash, timingSafeEqual } from 'node:crypto'
import type { CryptoKey, JWTPayload } from 'jose'
import { InvalidOptionError } from '../core/errors.js'
import { requirePeer } from '../core/peer.js'
import type { AdminJwtOptions } from './options.js'

/** What a caller may do: `admin` everything, `read` only look (never a value, never a change). */
export type Role = 'admin' | 'read'

/** Who made an admin call, as the audit log names them. Never the secret itself. */
export interface Principal {
  /** `token:<8 hex of its SHA-256>` or `jwt:<sub>`. */
  id: string
  method: 'token' | 'jwt'
  role: Role
}

/** The outcome of checking one request's credentials. */
export type AuthResult =
  | { ok: true; principal: Principal }
  | {
      ok: false
      status: 401 | 403
      reason: string
      /** Who presented a valid JWT that grants no role. */
      principal?: Omit<Principal, 'role'>
      /** A credential was presented (and failed); false when the Authorization header was absent. */
      attempted: boolean
    }

/** Checks an `Authorization` header value. */
export type Authenticate = (authorization: string | undefined) => Promise<AuthResult>

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/**
 * True when `candidate` equals one of the configured tokens. Both sides are hashed to 32-byte
 * digests first: timingSafeEqual needs equal lengths and would otherwise leak the token's length
 * (docs/admin.md). Every configured token is compared, so the time does not depend on which matched.
 */
export function matchesToken(candidate: string, tokenDigests: readonly Buffer[]): Buffer | undefined {
  const digest = sha256(candidate)
  let matched: Buffer | undefined
  for (const expected of tokenDigests) {
    if (timingSafeEqual(digest, expected)) matched = expected
  }
  return matched
}

function hasRole(payload: JWTPayload, claim: string, role: string): boolean {
  const value = payload[claim]
  if (typeof value === 'string') return value === role
  return Array.isArray(value) && value.includes(role)
}

/** Shortest static admin token accepted: shorter ones are guessable online. */
const MIN_TOKEN_LENGTH = 16
/** Default of `jwt.maxTokenAgeMs`. */
const DEFAULT_MAX_TOKEN_AGE_MS = 3_600_000

/** Refuses, at registration, settings that would make the admin API guessable or accept foreign tokens. */
function checkSettings(tokens: readonly string[], option: string, jwt: AdminJwtOptions | undefined): void {
  tokens.forEach((token, i) => {
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new InvalidOptionError(
        `${option}[${i}]: an admin token must be at least ${MIN_TOKEN_LENGTH} characters, without spaces (got ${token.length} characters)`,
      )
    }
  })
  if (!jwt?.secret && !jwt?.publicKey) return
  if (typeof jwt.audience !== 'string' || jwt.audience === '') {
    throw new InvalidOptionError(
      'jwt.audience is required with jwt.secret or jwt.publicKey: only tokens issued for the admin API may be accepted',
    )
  }
  const maxAge = jwt.maxTokenAgeMs ?? DEFAULT_MAX_TOKEN_AGE_MS
  if (!Number.isFinite(maxAge) || maxAge < 1000) {
    throw new InvalidOptionError(`jwt.maxTokenAgeMs must be a number of milliseconds >= 1000 (got ${maxAge})`)
  }
}

/**
 * Builds the credential check from the plugin's `tokens` (admin), `jwt` and `readTokens` (read-only)
 * options; throws InvalidOptionError for a token shorter than 16 characters or JWT settings without
 * an audience. A token in both lists is an admin token.
 */
export function createAuthenticator(
  tokens: readonly string[] = [],
  jwt?: AdminJwtOptions,
  readTokens: readonly string[] = [],
): Authenticate {
  checkSettings(readTokens, 'readTokens', undefined)
  checkSettings(tokens, 'tokens', jwt)
  const digests = tokens.map(sha256)
  const readDigests = readTokens.map(sha256)
  const algorithms = jwt?.algorithms ?? (jwt?.publicKey ? ['RS256'] : ['HS256'])
  // jose is needed only for JWTs: static tokens alone work without it installed.
  const jose = jwt ? requirePeer<typeof import('jose')>('jose', "cachet/admin's jwt option") : undefined
  let key: Promise<CryptoKey | Uint8Array> | undefined
  if (jwt?.publicKey) key = jose!.importSPKI(jwt.publicKey, 'RS256')
  else if (jwt?.secret) key = Promise.resolve(new TextEncoder().encode(jwt.secret))
  const roleClaim = jwt?.roleClaim ?? 'role'
  const adminRole = jwt?.adminRole ?? 'admin'
  const readRole = jwt?.readRole ?? 'operator'
  const maxTokenAge = Math.floor((jwt?.maxTokenAgeMs ?? DEFAULT_MAX_TOKEN_AGE_MS) / 1000)

  return async (authorization) => {
    const attempted = Boolean(authorization?.trim())
    const match = authorization ? /^Bearer[ \t]+(\S{1,8192})[ \t]*$/i.exec(authorization) : null
    if (!match) {
      const reason = attempted ? 'not a bearer credential' : 'missing bearer credential'
      return { ok: false, status: 401, reason, attempted }
    }
    const credential = match[1]!
    // Both lists are always compared, so the time does not tell which kind of token matched.
    const adminToken = matchesToken(credential, digests)
    const readToken = matchesToken(credential, readDigests)
    const token = adminToken ?? readToken
    if (token) {
      const id = `token:${token.toString('hex').slice(0, 8)}`
      return { ok: true, principal: { id, method: 'token', role: adminToken ? 'admin' : 'read' } }
    }
    if (!key || credential.split('.').length !== 3) {
      return { ok: false, status: 401, reason: 'invalid credential', attempted }
    }
    let payload: JWTPayload
    try {
      ;({ payload } = await jose!.jwtVerify(credential, await key, {
        algorithms,
        issuer: jwt?.issuer,
        audience: jwt?.audience,
        // A stolen token must not work for long: exp is required, and iat no older than maxTokenAgeMs.
        requiredClaims: ['exp', 'iat'],
        maxTokenAge,
      }))
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'ERR_JWT_INVALID'
      return { ok: false, status: 401, reason: `invalid JWT (${code})`, attempted }
    }
    const id = `jwt:${String(payload.sub ?? 'anonymous').slice(0, 128)}`
    if (hasRole(payload, roleClaim, adminRole))
      return { ok: true, principal: { id, method: 'jwt', role: 'admin' } }
    if (hasRole(payload, roleClaim, readRole))
      return { ok: true, principal: { id, method: 'jwt', role: 'read' } }
    return {
      ok: false,
      status: 403,
      reason: `JWT has neither the ${adminRole} nor the ${readRole} role`,
      principal: { id, method: 'jwt' },
      attempted,
    }
  }
}
