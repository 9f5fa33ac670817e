import { randomBytes } from 'node:crypto'
import { jwtVerify, SignJWT } from 'jose'

/** Demo users are numbered; the generated logs belong to users 1..50, higher ids simply have none. */
export const MAX_DEMO_USER_ID = 1_000_000

const ISSUER = 'cachet-demo'

/** Signs and verifies the demo's HS256 user tokens (demo only: the secret lives for one process). */
export class DemoAuth {
  readonly #secret: Uint8Array

  constructor(secret: Uint8Array = randomBytes(32)) {
    this.#secret = secret
  }

  /** A one-hour token whose subject is the user id. */
  sign(userId: number): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(String(userId))
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(this.#secret)
  }

  /** The user id of a valid token; undefined for a missing, malformed, expired or forged one. */
  async verify(authorization: string | undefined): Promise<number | undefined> {
    const token = /^Bearer ([A-Za-z0-9._-]+)$/.exec(authorization ?? '')?.[1]
    if (!token) return undefined
    try {
      const { payload } = await jwtVerify(token, this.#secret, { algorithms: ['HS256'], issuer: ISSUER })
      const id = Number(payload.sub)
      return Number.isInteger(id) && id >= 1 && id <= MAX_DEMO_USER_ID ? id : undefined
    } catch {
      return undefined
    }
  }
}
