import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AdminHarness, startAdmin } from './setup.js'

// Seed 000, "États du Cache": 1. HEALTHY, 2. WARMING ("Status: Warming up", hit rate building),
// 3. DEGRADED, 4. DOWN.
let h: AdminHarness
let release: () => void = () => {}
const gate = new Promise<void>((resolve) => {
  release = resolve
})

beforeAll(async () => {
  h = await startAdmin()
  h.warmers.register(
    'profiles',
    async (ctx) => {
      ctx.progress(3)
      await gate
      return { keys: 5 }
    },
    { onStart: true },
  )
  h.warmers.register('later', async () => ({ keys: 0 }))
})
afterAll(async () => {
  release()
  await h.close()
})

const health = () => h.app.inject({ method: 'GET', url: '/api/cache/health' })

describe('GET /health while start-up warmers run', () => {
  it('says warming, with the running module and its progress, then healthy when they are done', async () => {
    await expect.poll(async () => (await health()).json().status, { timeout: 10_000 }).toBe('healthy')
    const job = h.warmers.runStartup(h.cache)!
    const warming = await health()
    expect(warming.statusCode).toBe(200)
    expect(warming.json()).toMatchObject({
      success: true,
      status: 'warming',
      warmup: {
        jobId: job.id,
        modules: ['profiles'],
        current: { module: 'profiles', keys: 3 },
        keysCreated: 3,
      },
      redis: { connected: true },
    })

    release()
    await job.done
    const after = (await health()).json()
    expect(after.status).toBe('healthy')
    expect(after.warmup).toBeUndefined()
  })

  it('a warm-up asked through the API is not a start-up warming', async () => {
    const job = h.warmers.start(h.cache, { modules: ['later'] })
    expect((await health()).json().status).not.toBe('warming')
    await job.done
  })
})
