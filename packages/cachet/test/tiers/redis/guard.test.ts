import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { L2Error } from '../../../src/core/errors.js'
import { type CircuitState, L2Guard } from '../../../src/tiers/redis/guard.js'

let unhandled = 0
const onUnhandled = () => {
  unhandled++
}
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled)
})
afterAll(() => {
  process.off('unhandledRejection', onUnhandled)
})

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const fail = () => Promise.reject(new Error('boom'))

/** An error shaped like ioredis' ReplyError (Redis answered with an error). */
function replyError(): Error {
  const error = new Error('WRONGTYPE Operation against a key holding the wrong kind of value')
  error.name = 'ReplyError'
  return error
}

describe('L2Guard', () => {
  it('passes results through and wraps failures in an L2Error naming the operation and cause', async () => {
    const guard = new L2Guard({ timeoutMs: 100, breaker: false })
    expect(await guard.run('GET', async () => 42)).toBe(42)
    const error = await guard.run('GET', fail).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(L2Error)
    expect((error as Error).message).toMatch(/GET.*boom/)
    expect((error as Error).cause).toBeInstanceOf(Error)
    expect(guard.errors).toBe(1)
  })

  it('rejects at the deadline when the call hangs; the late rejection is not unhandled', async () => {
    const guard = new L2Guard({ timeoutMs: 50, breaker: false })
    const started = Date.now()
    // The call settles 1.5 s late: far enough past the 50 ms deadline that a starved machine's late
    // timer (bound 1 s) is still told apart from waiting for the call.
    let lateSettled = false
    const late = new Promise<never>((_, reject) =>
      setTimeout(() => {
        lateSettled = true
        reject(new Error('late'))
      }, 1_500),
    )
    const error = await guard.run('SET', () => late).catch((e: unknown) => e)
    expect(Date.now() - started).toBeLessThan(1_000)
    expect((error as Error).message).toMatch(/SET timed out/)
    await expect.poll(() => lateSettled, { timeout: 10_000 }).toBe(true)
    await sleep(100) // an unhandled rejection is reported once the microtasks have run
    expect(unhandled).toBe(0)
  })

  it('a function that throws synchronously is a failure, not a crash', async () => {
    const guard = new L2Guard({ timeoutMs: 50, breaker: false })
    const error = await guard
      .run('GET', () => {
        throw new Error('sync')
      })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(L2Error)
  })

  it('untallied calls (a retry in progress) never open the circuit; their final failure counts once', async () => {
    const guard = new L2Guard({ timeoutMs: 50, breaker: { threshold: 2, durationMs: 10_000 } })
    const untallied = guard.untallied()
    // Failures and timeouts of calls that may still be repeated: not one counts.
    for (let i = 0; i < 5; i++) await untallied.run('GET', fail).catch(() => {})
    const hang = new Promise<never>(() => {})
    const timeout = await untallied.run('GET', () => hang).catch((e: unknown) => e)
    expect(timeout).toMatchObject({ reason: 'timeout' })
    expect(guard.consecutiveFailures).toBe(0)
    expect(guard.state).toBe('closed')
    guard.countFailure(timeout)
    expect(guard.consecutiveFailures).toBe(1)
    // What does not count for the breaker in run() does not in countFailure() either.
    guard.countFailure(
      await guard
        .untallied()
        .run('GET', () => Promise.reject(replyError()))
        .catch((e) => e),
    )
    guard.countFailure(new Error('not an L2 failure'))
    expect(guard.consecutiveFailures).toBe(1)
    guard.countFailure(timeout)
    expect(guard.state).toBe('open')
    const skipped = await untallied.run('GET', async () => 1).catch((e: unknown) => e)
    expect(skipped).toMatchObject({ reason: 'circuit-open' })
    guard.countFailure(skipped)
    expect(guard.consecutiveFailures).toBe(2)
  })

  it('opens after N consecutive failures, lets one probe through after the duration, closes on success', async () => {
    const states: CircuitState[] = []
    const guard = new L2Guard({
      timeoutMs: 50,
      breaker: { threshold: 3, durationMs: 200 },
      onStateChange: (state) => states.push(state),
    })
    await guard.run('GET', fail).catch(() => {})
    await guard.run('GET', async () => 1) // a success resets the count
    for (let i = 0; i < 2; i++) await guard.run('GET', fail).catch(() => {})
    expect(guard.state).toBe('closed')
    await guard.run('GET', fail).catch(() => {})
    expect(guard.state).toBe('open')

    let calls = 0
    const error = await guard.run('GET', async () => ++calls).catch((e: unknown) => e)
    expect((error as Error).message).toMatch(/circuit open/)
    expect(calls).toBe(0)

    await sleep(250)
    expect(guard.state).toBe('half-open')
    let release!: () => void
    const probe = guard.run('GET', () => new Promise<number>((resolve) => (release = () => resolve(1))))
    // Only one probe at a time.
    await expect(guard.run('GET', async () => 2)).rejects.toThrow(/circuit open/)
    release()
    expect(await probe).toBe(1)
    expect(guard.state).toBe('closed')
    expect(states).toEqual(['open', 'half-open', 'closed'])
  })

  it('a failed probe opens the circuit again', async () => {
    const guard = new L2Guard({ timeoutMs: 50, breaker: { threshold: 1, durationMs: 100 } })
    await guard.run('GET', fail).catch(() => {})
    await sleep(150)
    await guard.run('GET', fail).catch(() => {})
    expect(guard.state).toBe('open')
  })

  it('a reply error (Redis answered) counts as an error but does not open the circuit', async () => {
    const guard = new L2Guard({ timeoutMs: 50, breaker: { threshold: 2, durationMs: 1_000 } })
    for (let i = 0; i < 5; i++) await guard.run('GET', () => Promise.reject(replyError())).catch(() => {})
    expect(guard.errors).toBe(5)
    expect(guard.state).toBe('closed')
  })

  it('with the breaker off it never opens', async () => {
    const guard = new L2Guard({ timeoutMs: 50, breaker: false })
    for (let i = 0; i < 10; i++) await guard.run('GET', fail).catch(() => {})
    expect(guard.state).toBe('closed')
  })
})
