import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createAuditLog } from '../../src/admin/audit-log.js'
import { createAuthenticator, matchesToken } from '../../src/admin/auth.js'
import { createFailureLimiter } from '../../src/admin/brute-force.js'
import { createDenialRecorder } from '../../src/admin/denials.js'
import { createWarmupRegistry, UnknownWarmupModuleError, WarmupBusyError } from '../../src/admin/index.js'
import { matchesEverything, reachesEveryNamespace, stripPrefix } from '../../src/admin/patterns.js'
import { publicReason } from '../../src/admin/routes/health.js'
import { escapeControl, sanitizeParams } from '../../src/admin/sanitize.js'
import { createCache } from '../../src/index.js'

describe('sanitising (RELIABILITY S9)', () => {
  it('escapes CR, LF, ESC, NUL and line separators', () => {
    expect(escapeControl('a\r\nb\u001b[31mc\u0000d\u2028')).toBe('a\\x0d\\x0ab\\x1b[31mc\\x00d\\u2028')
  })

  it('bounds params and keeps __proto__ a plain property', () => {
    const params = sanitizeParams(
      JSON.parse('{"__proto__":{"isAdmin":true},"keys":[' + '"k",'.repeat(99) + '"k"]}'),
    )
    expect(Object.getPrototypeOf(params)).toBe(null)
    expect(({} as { isAdmin?: boolean }).isAdmin).toBeUndefined()
    expect((params as { keys: unknown[] }).keys).toHaveLength(51)
    expect(sanitizeParams('x'.repeat(2000))).toMatch(/…\(2000 chars\)$/)
  })
})

describe('patterns', () => {
  it('strips the prefix, spots match-everything and patterns reaching every namespace', () => {
    expect(stripPrefix('cache:users:*', 'cache')).toBe('users:*')
    expect(stripPrefix('cachex:users:*', 'cache')).toBe('cachex:users:*')
    expect(matchesEverything('**')).toBe(true)
    expect(matchesEverything('*:*')).toBe(false)
    for (const pattern of ['*', '**', '?*', '*a*', '[a-z]*', '*:*']) {
      expect(reachesEveryNamespace(pattern)).toBe(true)
    }
    for (const pattern of ['users:*', 'u*', '\\*x', 'a?*']) expect(reachesEveryNamespace(pattern)).toBe(false)
  })
})

describe('token comparison (RELIABILITY S8)', () => {
  const digests = ['secret-one', 'secret-two'].map((t) => createHash('sha256').update(t).digest())

  it('matches any configured token and never throws on other lengths', () => {
    expect(matchesToken('secret-two', digests)).toBe(digests[1])
    expect(matchesToken('secret-tw', digests)).toBeUndefined()
    expect(matchesToken('x'.repeat(5000), digests)).toBeUndefined()
    expect(matchesToken('', digests)).toBeUndefined()
  })

  it('compares digests with timingSafeEqual, never the secret with ===', () => {
    const source = readFileSync(new URL('../../src/admin/auth.ts', import.meta.url), 'utf8')
    expect(source).toContain('timingSafeEqual(digest, expected)')
    expect(source).not.toMatch(/(token|credential|secret)\s*[!=]==/i)
  })

  it('refuses when nothing is configured', async () => {
    const authenticate = createAuthenticator([], undefined)
    expect(await authenticate('Bearer anything')).toMatchObject({ ok: false, status: 401 })
    expect(await authenticate(undefined)).toMatchObject({ ok: false, status: 401 })
  })
})

describe('brute-force guard', () => {
  it('blocks after N failures in the window and forgets after it', () => {
    let now = 0
    const limiter = createFailureLimiter(3, 60_000, () => now)
    for (let i = 0; i < 3; i++) limiter.fail('1.2.3.4')
    expect(limiter.blockedFor('1.2.3.4')).toBe(60_000)
    expect(limiter.blockedFor('5.6.7.8')).toBe(0)
    now = 59_000
    expect(limiter.blockedFor('1.2.3.4')).toBe(1000)
    now = 60_000
    expect(limiter.blockedFor('1.2.3.4')).toBe(0)
  })
})

describe('warm-up registry', () => {
  it('runs start-up warmers in the background and only those', async () => {
    const cache = createCache({ redis: false, logger: false })
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const registry = createWarmupRegistry()
      .register(
        'config',
        async (ctx) => {
          await gate
          await ctx.set('config:main', { on: true })
          return undefined
        },
        { onStart: true },
      )
      .register('seo', async () => ({ keys: 3 }))
    const job = registry.runStartup(cache)!
    // Not awaited by the caller: readiness does not wait for warm-up (seed 004 §6.3).
    expect(job.state()).toMatchObject({ status: 'running', trigger: 'startup', modules: ['config'] })
    expect(() => registry.start(cache)).toThrow(WarmupBusyError)
    release()
    const final = await job.done
    expect(final).toMatchObject({ status: 'completed', modulesWarmed: ['config'], keysCreated: 1, errors: 0 })
    expect(() => registry.start(cache, { modules: ['nope'] })).toThrow(UnknownWarmupModuleError)
    // config:main exists now: kept unless force.
    expect((await registry.start(cache).done).keysCreated).toBe(3)
    expect((await registry.start(cache, { force: true }).done).keysCreated).toBe(4)
    await cache.close()
  })

  it('aborts running warmers through their signal', async () => {
    const cache = createCache({ redis: false, logger: false })
    const registry = createWarmupRegistry().register('slow', (ctx) => {
      return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))
    })
    const job = registry.start(cache)
    registry.abortAll()
    const final = await job.done
    expect(final).toMatchObject({ status: 'aborted', errors: 1 })
    expect(final.results[0]!.error).toBe('shutting down')
    await cache.close()
  })
})

describe('in-memory audit log', () => {
  it('pages newest first and filters', async () => {
    const log = createAuditLog({
      streamKey: 'x',
      maxLen: 3,
      logger: { info() {}, error() {} },
      timeoutMs: 100,
    })
    for (let i = 0; i < 5; i++) {
      await log.write({
        at: i,
        who: 'w',
        ip: 'ip',
        action: i % 2 ? 'clear' : 'delete',
        params: {},
        outcome: 'ok',
        status: 200,
        keysAffected: i,
        durationMs: 0,
      })
    }
    const first = await log.list({ limit: 2 })
    expect(first.records.map((r) => r.keysAffected)).toEqual([4, 3])
    const second = await log.list({ limit: 2, cursor: first.nextCursor! })
    expect(second.records.map((r) => r.keysAffected)).toEqual([2])
    expect((await log.list({ limit: 10, action: 'clear' })).records.map((r) => r.keysAffected)).toEqual([3])
  })
})

describe('audit log lines', () => {
  it('logs each record as one pino line with control characters escaped', async () => {
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
    const log = createAuditLog({ streamKey: 'x', maxLen: 10, logger, timeoutMs: 100 })
    await log.write({
      at: Date.UTC(2026, 0, 1),
      who: 'token:abcd1234',
      ip: '10.0.0.1',
      action: 'clear',
      params: sanitizeParams({ pattern: 'users:*\r\n{"forged":true}' }),
      outcome: 'ok',
      status: 200,
      keysAffected: 2,
      durationMs: 1.5,
      reason: 'line\nbreak',
    })
    expect(lines).toHaveLength(1)
    expect(lines[0]!.trim().split('\n')).toHaveLength(1)
    const line = JSON.parse(lines[0]!)
    expect(line.audit).toMatchObject({
      who: 'token:abcd1234',
      action: 'clear',
      outcome: 'ok',
      keysAffected: 2,
    })
    expect(line.audit.params.pattern).toBe('users:*\\x0d\\x0a{"forged":true}')
    expect(line.audit.reason).toBe('line\\x0abreak')
  })
})

describe('denial records', () => {
  const memoryLog = () =>
    createAuditLog({
      streamKey: 'x',
      maxLen: 10,
      deniedMaxLen: 10,
      logger: { info() {}, error() {} },
      timeoutMs: 100,
    })
  const denial = (i: number) => ({
    who: 'anonymous',
    ip: `10.0.0.${i}`,
    address: `10.0.0.${i}`,
    status: 401,
    reason: 'invalid credential',
    method: 'GET',
    url: '/stats',
  })

  it('past the client table cap, new clients share one overflow record', async () => {
    const log = memoryLog()
    const recorder = createDenialRecorder(log, 60_000, Date.now, 3)
    for (let i = 0; i < 50; i++) await recorder.record(denial(i))
    const open = (await log.list({ limit: 100 })).records
    expect(open.map((r) => r.ip)).toEqual(['*', '10.0.0.2', '10.0.0.1', '10.0.0.0'])
    await recorder.flush()
    const all = (await log.list({ limit: 100 })).records
    expect(all.reduce((sum, r) => sum + (r.count ?? 0), 0)).toBe(50)
  })

  it('a denial flood never pushes actions out, and pages merge both rings', async () => {
    const log = memoryLog()
    const action = {
      who: 't',
      ip: 'i',
      action: 'clear',
      params: {},
      outcome: 'ok' as const,
      status: 200,
      durationMs: 0,
    }
    await log.write({ ...action, at: 1, keysAffected: 1 })
    const recorder = createDenialRecorder(log, 60_000)
    for (let i = 0; i < 30; i++) await recorder.record(denial(i))
    await log.write({ ...action, at: 2, keysAffected: 2 })
    await recorder.flush()
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await log.list({ limit: 4, cursor })
      seen.push(...page.records.map((r) => `${r.action}:${r.ip}`))
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    expect(seen).toHaveLength(12)
    expect(seen[0]).toBe('clear:i')
    expect(seen.at(-1)).toBe('clear:i')
    expect(seen.filter((entry) => entry.startsWith('auth:'))).toHaveLength(10)
  })
})

describe('publicReason', () => {
  it('masks addresses and bounds its work on a hostile, very long reason', () => {
    const started = performance.now()
    const masked = publicReason(`connect ECONNREFUSED 10.0.0.7:6379 ${'a:1'.repeat(300_000)}`)
    expect(performance.now() - started).toBeLessThan(1000) // was quadratic: minutes for this input
    expect(masked).toContain('<address>')
    expect(masked).not.toContain('10.0.0.7')
    expect(masked.length).toBeLessThanOrEqual(200)
  })
})
