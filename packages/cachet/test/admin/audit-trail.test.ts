import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN, type AdminHarness, seed, signJwt, startAdmin } from './setup.js'

let h: AdminHarness
let hosts = 0
/** A fresh client address for each call. */
const nextIp = () => `10.20.${(++hosts >> 8) & 255}.${hosts & 255}`

beforeAll(async () => {
  h = await startAdmin({ audit: { maxLen: 100 }, limits: { authWindowMs: 2000 } })
})
afterAll(async () => h.close())

interface Listed {
  id: string
  action: string
  outcome: string
  who: string
  status: number
  count?: number
  params: Record<string, unknown>
}

async function audit(query = ''): Promise<{ records: Listed[]; nextCursor: string | null }> {
  const response = await h.app.inject({ method: 'GET', url: `/api/cache/audit${query}`, headers: ADMIN })
  expect(response.statusCode).toBe(200)
  const { records, pagination } = response.json().data
  return { records, nextCursor: pagination.nextCursor }
}

describe('audit trail under a flood of denied calls', () => {
  it("hundreds of denied calls cannot push the admin's clear record out of the trail", async () => {
    await seed(h.cache, 'users', 3)
    const cleared = await h.app.inject({
      method: 'POST',
      url: '/api/cache/clear',
      headers: ADMIN,
      payload: { confirm: true },
    })
    expect(cleared.statusCode).toBe(200)
    const viewer = await signJwt({ role: 'viewer', sub: 'wiper' })
    for (let i = 0; i < 600; i++) {
      const response = await h.app.inject({
        method: 'POST',
        url: '/api/cache/clear',
        headers: i % 2 ? { authorization: `Bearer ${viewer}` } : {},
        payload: { confirm: true },
        remoteAddress: nextIp(),
      })
      expect([401, 403]).toContain(response.statusCode)
    }
    const { records } = await audit('?action=clear&outcome=ok')
    expect(records).toHaveLength(1)
    expect(records[0]).toMatchObject({ who: expect.stringMatching(/^token:/), keysAffected: 3, status: 200 })
    // The denials are listed too, newest first, ahead of the clear.
    const newest = await audit('?limit=5')
    expect(newest.records.every((record) => record.outcome === 'denied')).toBe(true)
  })

  it('repeated denials of one principal from one address leave one record per window, with a count', async () => {
    const viewer = await signJwt({ role: 'viewer', sub: 'repeat-viewer' })
    const statuses: number[] = []
    for (let i = 0; i < 25; i++) {
      const response = await h.app.inject({
        method: 'GET',
        url: '/api/cache/stats',
        headers: { authorization: `Bearer ${viewer}` },
        remoteAddress: '203.0.113.30',
      })
      statuses.push(response.statusCode)
    }
    expect(statuses.filter((status) => status === 403)).toHaveLength(10)
    expect(statuses.filter((status) => status === 429)).toHaveLength(15)
    const mine = async () =>
      (await audit('?outcome=denied&limit=100')).records.filter((r) => r.who === 'jwt:repeat-viewer')
    const first = await mine()
    expect(first.map((record) => [record.status, record.count])).toEqual([
      [429, 1],
      [403, 1],
    ])
    // When the window closes, the repeats are recorded with their number: the counts add up.
    await expect
      .poll(async () => (await mine()).reduce((sum, record) => sum + (record.count ?? 0), 0), {
        timeout: 8000,
        interval: 200,
      })
      .toBe(25)
    expect((await mine()).length).toBeLessThanOrEqual(4)
  })

  it('GET /audit merges actions and denials newest first, page by page, with filters', async () => {
    await h.client.flushdb()
    // The two streams are ordered by stream id, to the millisecond: one call per millisecond at most.
    const tick = () => new Promise((resolve) => setTimeout(resolve, 3))
    const expected: string[] = []
    for (let i = 0; i < 4; i++) {
      await tick()
      await h.app.inject({
        method: 'POST',
        url: '/api/cache/invalidate/merge',
        headers: ADMIN,
        remoteAddress: nextIp(),
      })
      expected.push('invalidate-type')
      await tick()
      await h.app.inject({ method: 'GET', url: '/api/cache/stats', remoteAddress: nextIp() })
      expected.push('auth')
    }
    const seen: Listed[] = []
    let cursor: string | null = null
    do {
      const page = await audit(`?limit=3${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...page.records)
      cursor = page.nextCursor
    } while (cursor)
    expect(seen.map((record) => record.action)).toEqual(expected.reverse())
    expect(new Set(seen.map((record) => record.id)).size).toBe(8)
    const denied = await audit('?outcome=denied')
    expect(denied.records).toHaveLength(4)
    expect(denied.records.every((record) => record.action === 'auth')).toBe(true)
    expect((await audit('?action=invalidate-type')).records).toHaveLength(4)
  })
})

describe('value reads', () => {
  it('GET /keys/:key leaves an audit record naming the key', async () => {
    await h.cache.set('secrets:1', { card: '4111' })
    const response = await h.app.inject({ method: 'GET', url: '/api/cache/keys/secrets:1', headers: ADMIN })
    expect(response.statusCode).toBe(200)
    const { records } = await audit('?action=read')
    expect(records[0]).toMatchObject({ outcome: 'ok', params: { params: { key: 'secrets:1' } } })
    expect(JSON.stringify(records[0])).not.toContain('4111')
  })
})
