import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { remainingLifetime } from '../../src/admin/lifetime.js'
import { ADMIN, type AdminHarness, startAdmin } from './setup.js'

let h: AdminHarness
beforeAll(async () => {
  h = await startAdmin()
})
afterAll(async () => h.close())

const get = async (url: string) => {
  const response = await h.app.inject({ url: `/api/cache${url}`, headers: ADMIN })
  expect(response.statusCode, response.body).toBe(200)
  return response.json().data
}

describe('key lifetimes: fresh for, then stale until', () => {
  it('remainingLifetime counts from now and never goes below 0', () => {
    expect(remainingLifetime({ freshUntil: 1_000, staleUntil: 5_000 }, 2_000)).toEqual({
      freshForMs: 0,
      staleForMs: 3_000,
    })
    expect(remainingLifetime({}, 2_000)).toEqual({})
  })

  it('GET /keys tells freshness apart from the Redis TTL, which includes the grace', async () => {
    await h.cache.set('dashboard:home', { ok: 1 }, { ttl: '5m', grace: '1h' })
    const [item] = (await get('/keys?pattern=dashboard:*')).keys
    expect(item.freshForMs).toBeGreaterThan(250_000)
    expect(item.freshForMs).toBeLessThanOrEqual(330_000)
    expect(item.staleForMs - item.freshForMs).toBeGreaterThan(3_500_000)
    // The Redis TTL is the stale deadline: that is why "ttl 1h 4m" read like a bug.
    expect(Math.abs(item.ttlMs - item.staleForMs)).toBeLessThan(2_000)
    expect(item.staleUntil).toBeGreaterThan(item.freshUntil)
  })

  it('a stale entry is fresh for 0', async () => {
    await h.cache.set('report:old', 1, { ttl: 50, grace: '1h' })
    await new Promise((resolve) => setTimeout(resolve, 120))
    const details = await get('/keys/report:old')
    expect(details).toMatchObject({ state: 'stale', freshForMs: 0 })
    expect(details.staleForMs).toBeGreaterThan(3_000_000)
  })

  it('data cachet did not write has only its Redis TTL', async () => {
    await h.client.set('cache:legacy:raw', 'not an envelope', 'PX', 60_000)
    const [item] = (await get('/keys?pattern=legacy:*')).keys
    expect(item).not.toHaveProperty('freshForMs')
    expect(item.ttlMs).toBeGreaterThan(50_000)
  })

  it('an invalidated key is shown as a tombstone with the time it keeps fencing late writes', async () => {
    await h.cache.set('user:7', { name: 'Ann' })
    await h.cache.delete('user:7')
    expect((await get('/keys?pattern=user:*')).keys).toEqual([])
    const details = await get('/keys/user:7')
    expect(details.state).toBe('tombstone')
    expect(details.ttlMs).toBeGreaterThan(0)
    expect(details).not.toHaveProperty('freshForMs')
  })
})
