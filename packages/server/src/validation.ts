import type { FastifyReply } from 'fastify'
import type { z } from 'zod'

/** The first problem of a failed zod parse, prefixed with the field it concerns (`items.0.quantity: …`). */
export function issueMessage(error: z.ZodError): string {
  const issue = error.issues[0]
  if (!issue) return 'invalid input'
  const path = issue.path.map(String).join('.')
  return path ? `${path}: ${issue.message}` : issue.message
}

/** Answers 400 with the first problem of a failed parse. */
export function badRequest(reply: FastifyReply, error: z.ZodError | string): FastifyReply {
  const message = typeof error === 'string' ? error : issueMessage(error)
  return reply.code(400).send({ error: 'E_BAD_REQUEST', message })
}

/** Upper bound of an `int` column: larger ids cannot exist, and would make PostgreSQL fail the query. */
export const MAX_INT = 2_147_483_647
