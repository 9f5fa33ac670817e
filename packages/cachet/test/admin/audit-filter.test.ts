import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, type AdminHarness, seed, startAdmin } from './setup.js'

const READ_TOKEN = 'audit-read-only-token-0123456789'

let h: AdminHarness
beforeAll(async () => {
  h = await startAdmin({ readTokens: [READ_TOKEN] })
  await seed(h.cache, 'users', 3)
})
afterAll(async () => h.close())

const audit = async (query: string, headers: Record<string, string> = ADMIN) => {
  const response = await h.app.inject({ url: `/api/cache/audit?${query}`, headers })
  return response
}

describe('GET /audit ?who=', () => {
  it('lists only the records of one caller, across actions and denials', async () => {
    const read = { authorization: `Bearer ${READ_TOKEN}` }
    await h.app.inject({ url: '/api/cache/keys/users:0', headers: read })
    await h.app.inject({ method: 'POST', url: '/api/cache/clear', headers: read, payload: { confirm: true } })
    await h.app.inject({ url: '/api/cache/keys/users:1', headers: ADMIN })
    const all = (await audit('limit=50')).json().data.records as Array<Record<string, unknown>>
    const readWho = all.find((record) => record.action === 'metadata')!.who as string
    const records = (await audit(`who=${encodeURIComponent(readWho)}`)).json().data.records
    expect(records.map((r: Record<string, unknown>) => [r.action, r.outcome, r.status])).toEqual([
      ['auth', 'denied', 403],
      ['metadata', 'ok', 200],
    ])
    expect((await audit('who=anonymous')).json().data.records).toEqual([])
  })

  it('refuses a who with control characters, or too long, with a 400 naming the field', async () => {
    for (const who of ['a%0Ab', 'x'.repeat(161)]) {
      const response = await audit(`who=${who}`)
      expect(response.statusCode).toBe(400)
      expect(response.json().message).toMatch(/^query\.who: /)
    }
  })
})
