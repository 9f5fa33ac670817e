import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { type DemoAuth, MAX_DEMO_USER_ID } from '../demo-auth.js'
import { badRequest } from '../validation.js'

const bodySchema = z.strictObject({
  userId: z.coerce
    .number({ error: 'userId must be a number' })
    .int('userId must be an integer')
    .min(1, 'userId must be at least 1')
    .max(MAX_DEMO_USER_ID, `userId must be at most ${MAX_DEMO_USER_ID}`),
})

/** POST /api/demo/token { userId }: an HS256 JWT for that user. Demo only: anyone may ask for any user. */
export const demoTokenRoute: FastifyPluginAsync<{ auth: DemoAuth }> = async (app, { auth }) => {
  app.post('/api/demo/token', async (request, reply) => {
    const parsed = bodySchema.safeParse(request.body ?? {})
    // The schema's messages name their field already.
    if (!parsed.success) return badRequest(reply, parsed.error.issues[0]?.message ?? 'invalid input')
    return { userId: parsed.data.userId, token: await auth.sign(parsed.data.userId), expiresIn: 3600 }
  })
}
