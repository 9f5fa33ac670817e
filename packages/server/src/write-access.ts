import { createAuthenticator } from 'cachet/admin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { DemoAuth } from './demo-auth.js'
import { requestUser } from './routes/me-dashboard.js'

/** Who may call the demo's write routes: the owner of what is written, or the admin. */
export interface WriteAccess {
  /** onRequest hook: 401 unless the request carries the admin token or a valid demo JWT. */
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>
  /**
   * After authenticate(): true when the request may change what belongs to user `ownerId` (its demo
   * JWT names that user, or it carries the admin token); otherwise answers 403 and resolves false.
   */
  mayChange(request: FastifyRequest, reply: FastifyReply, ownerId: number): Promise<boolean>
}

/** Write access for the demo routes: a user changes only their own data; the admin token changes any. */
export function writeAccess(auth: DemoAuth, adminToken: string): WriteAccess {
  const admin = createAuthenticator([adminToken])
  const isAdmin = async (request: FastifyRequest) => (await admin(request.headers.authorization)).ok

  return {
    async authenticate(request, reply) {
      if ((await requestUser(auth, request)) !== undefined || (await isAdmin(request))) return undefined
      return reply.code(401).header('www-authenticate', 'Bearer').send({
        error: 'E_UNAUTHORIZED',
        message: 'a demo token of the user (POST /api/demo/token) or the admin token is required',
      })
    },

    async mayChange(request, reply, ownerId) {
      if ((await requestUser(auth, request)) === ownerId || (await isAdmin(request))) return true
      reply.code(403).send({
        error: 'E_FORBIDDEN',
        message: `this token belongs to another user; only user ${ownerId} or the admin may do this`,
      })
      return false
    },
  }
}
