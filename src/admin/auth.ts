import { createHash, timingSafeEqual } from 'node:crypto'
import { type CryptoKey, importSPKI, type JWTPayload, jwtVerify } from 'jose'
import type { AdminJwtOptions } from './options.js'

/** Who made an admin call, as the audit log names them. Never the secret itself. */
export interface Principal {
  /** `token:<8 hex of its SHA-256>` or `jwt:<sub>`. */
  id: string
  method: 'token' | 'jwt'
}

/** The outcome of checking one request's credentials. */
export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 403; reason: string; principal?: Principal }

/** Checks an `Authorization` header value. */
export type Authenticate = (authorization: string | undefined) => Promise<AuthResult>

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/**
 * True when `candidate` equals one of the configured tokens. Both sides are hashed to 32-byte
 * digests first: timingSafeEqual needs equal lengths and would otherwise leak the token's length
 * (RELIABILITY S8). Every configured token is compared, so the time does not depend on which matched.
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

/** Builds the credential check from the plugin's `tokens` and `jwt` options. */
export function createAuthenticator(tokens: readonly string[] = [], jwt?: AdminJwtOptions): Authenticate {
  const digests = tokens.filter((token) => token.length > 0).map(sha256)
  const algorithms = jwt?.algorithms ?? (jwt?.publicKey ? ['RS256'] : ['HS256'])
  let key: Promise<CryptoKey | Uint8Array> | undefined
  if (jwt?.publicKey) key = importSPKI(jwt.publicKey, 'RS256')
  else if (jwt?.secret) key = Promise.resolve(new TextEncoder().encode(jwt.secret))
  const roleClaim = jwt?.roleClaim ?? 'role'
  const adminRole = jwt?.adminRole ?? 'admin'

  return async (authorization) => {
    const match = authorization ? /^Bearer[ \t]+(\S{1,8192})[ \t]*$/i.exec(authorization) : null
    if (!match) return { ok: false, status: 401, reason: 'missing bearer credential' }
    const credential = match[1]!
    const token = matchesToken(credential, digests)
    if (token)
      return { ok: true, principal: { id: `token:${token.toString('hex').slice(0, 8)}`, method: 'token' } }
    if (!key || credential.split('.').length !== 3) {
      return { ok: false, status: 401, reason: 'invalid credential' }
    }
    let payload: JWTPayload
    try {
      ;({ payload } = await jwtVerify(credential, await key, {
        algorithms,
        issuer: jwt?.issuer,
        audience: jwt?.audience,
      }))
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'ERR_JWT_INVALID'
      return { ok: false, status: 401, reason: `invalid JWT (${code})` }
    }
    const principal: Principal = {
      id: `jwt:${String(payload.sub ?? 'anonymous').slice(0, 128)}`,
      method: 'jwt',
    }
    if (!hasRole(payload, roleClaim, adminRole)) {
      return { ok: false, status: 403, reason: `JWT lacks the ${adminRole} role`, principal }
    }
    return { ok: true, principal }
  }
}
