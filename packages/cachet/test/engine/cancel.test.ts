import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { type CacheApi, InvalidOptionError, type LoaderContext } from '../../src/index.js'
import { redisSuite } from '../helpers/redis-suite.js'

const suite = redisSuite()
const newCache = suite.cache

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A promise and its resolve function: a loader that finishes when the test says so. */
function gate<T = void>() {
  let open!: (value: T) => void
  const opened = new Promise<T>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

/** How a promise settled, and how long after `since` (a performance.now()). */
async function settled<T>(promise: Promise<T>, since = performance.now()) {
  try {
    return { value: await promise, error: undefined, ms: performance.now() - since }
  } catch (error) {
    return { value: undefined, error: error as Error, ms: performance.now() - since }
  }
}

describe('cancellation: { signal } on reads', () => {
  it('an aborted signal rejects with its reason before anything runs, on every read', async () => {
    const cache = newCache()
    let calls = 0
    const loader = async () => ++calls
    const aborted = AbortSignal.abort()
    const reads: Array<(signal: AbortSignal) => Promise<unknown>> = [
      (signal) => cache.getOrSet('k', loader, { signal }),
      (signal) => cache.getOrSetResult('k', loader, { signal }),
      (signal) => cache.get('k', { signal }),
      (signal) => cache.getMany(['k'], { signal }),
      (signal) => cache.getOrSetMany(['k'], async () => [++calls], { signal }),
      (signal) =>
        cache.wrap(
          async function report() {
            return ++calls
          },
          { signal },
        )(),
    ]
    for (const read of reads) {
      const error = await read(aborted).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(DOMException)
      expect((error as DOMException).name).toBe('AbortError')
      // abort(reason): the reason itself, as fetch does.
      const reason = new Error('request closed')
      await expect(read(AbortSignal.abort(reason))).rejects.toBe(reason)
    }
    expect(calls).toBe(0)
    await expect(cache.getOrSet('k', loader, { signal: {} as AbortSignal })).rejects.toBeInstanceOf(
      InvalidOptionError,
    )
    await expect(cache.get('k', { signal: 'x' as unknown as AbortSignal })).rejects.toBeInstanceOf(
      InvalidOptionError,
    )
    expect(calls).toBe(0)
    await cache.close()
  })

  it('an abort ends a wait for the stampede lock held by another instance at once; the wait goes on for the cache', async () => {
    const prefix = `lock${Math.random().toString(36).slice(2, 8)}`
    const a = newCache({ prefix, lock: { wait: '20s' } })
    const b = newCache({ prefix, lock: { wait: '20s' } })
    const release = gate<string>()
    const holding = a.getOrSet('slow', () => release.opened)
    await sleep(200) // a holds the lock in Redis, its loader running
    let bLoads = 0
    const controller = new AbortController()
    const waiting = b.getOrSet('slow', async () => `b${++bLoads}`, { signal: controller.signal })
    await sleep(300)
    const abortedAt = performance.now()
    controller.abort()
    const outcome = await settled(waiting, abortedAt)
    expect(outcome.error?.name).toBe('AbortError')
    // Well under lock.wait (20 s): the caller stopped waiting when it aborted.
    expect(outcome.ms).toBeLessThan(1000)
    release.open('from a')
    expect(await holding).toBe('from a')
    // b's own wait went on without its caller: woken by a's write, it keeps a's value in L1.
    await expect
      .poll(async () => (await b.getOrSetResult('slow', async () => `b${++bLoads}`)).source, {
        timeout: 5000,
      })
      .toBe('l1')
    expect(bLoads).toBe(0)
    await Promise.all([a.close(), b.close()])
  })

  it('one of two joined callers aborting leaves the other served and the loader running, unaborted', async () => {
    const cache = newCache()
    const release = gate<string>()
    const started = gate()
    let context: LoaderContext<string> | undefined
    let calls = 0
    const loader = (ctx: LoaderContext<string>) => {
      calls++
      context = ctx
      started.open()
      return release.opened
    }
    const first = new AbortController()
    const second = new AbortController()
    const leader = cache.getOrSet('joined', loader, { signal: first.signal })
    const joiner = cache.getOrSetResult('joined', loader, { signal: second.signal })
    await started.opened
    first.abort()
    await expect(leader).rejects.toMatchObject({ name: 'AbortError' })
    expect(context?.signal.aborted).toBe(false)
    release.open('v')
    expect(await joiner).toMatchObject({ value: 'v', outcome: 'miss', shared: true })
    expect(context?.signal.aborted).toBe(false)
    expect(calls).toBe(1)
    await cache.close()
  })

  it('a caller without a signal keeps the load: a joiner that aborts leaves alone', async () => {
    const cache = newCache()
    const release = gate<string>()
    const started = gate()
    let context: LoaderContext<string> | undefined
    const loader = (ctx: LoaderContext<string>) => {
      context = ctx
      started.open()
      return release.opened
    }
    const leader = cache.getOrSet('plain', loader)
    const controller = new AbortController()
    const joiner = cache.getOrSet('plain', loader, { signal: controller.signal })
    await started.opened
    controller.abort()
    await expect(joiner).rejects.toMatchObject({ name: 'AbortError' })
    expect(context?.signal.aborted).toBe(false)
    release.open('v')
    expect(await leader).toBe('v')
    await cache.close()
  })

  it('when every caller aborts, ctx.signal aborts; a loader that ignores it finishes and its value is cached', async () => {
    const cache = newCache()
    const release = gate<string>()
    const started = gate()
    let context: LoaderContext<string> | undefined
    const loader = (ctx: LoaderContext<string>) => {
      context = ctx
      started.open()
      return release.opened
    }
    const first = new AbortController()
    const second = new AbortController()
    const callers = [
      cache.getOrSet('all-left', loader, { signal: first.signal }),
      cache.getOrSet('all-left', loader, { signal: second.signal }),
    ]
    await started.opened
    first.abort()
    expect(context?.signal.aborted).toBe(false)
    second.abort()
    expect(context?.signal.aborted).toBe(true)
    expect(context?.signal.reason).toMatchObject({ name: 'AbortError' })
    for (const caller of callers) await expect(caller).rejects.toMatchObject({ name: 'AbortError' })
    release.open('finished anyway')
    let calls = 0
    await expect
      .poll(() => cache.getOrSet('all-left', async () => `again ${++calls}`), { timeout: 2000 })
      .toBe('finished anyway')
    expect(calls).toBe(0)
    await cache.close()
  })

  it('a loader that gives up on ctx.signal caches nothing and is not reported as a source failure', async () => {
    const cache = newCache()
    const errors: string[] = []
    cache.on('error', ({ operation }) => errors.push(operation))
    const controller = new AbortController()
    const started = gate()
    const loader = (ctx: LoaderContext<string>) =>
      new Promise<string>((_, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
        started.open()
      })
    const caller = cache.getOrSet('gave-up', loader, { signal: controller.signal })
    await started.opened
    controller.abort()
    await expect(caller).rejects.toMatchObject({ name: 'AbortError' })
    await sleep(100)
    expect(errors).toEqual([])
    expect(await cache.getOrSet('gave-up', async () => 'fresh load')).toBe('fresh load')
    await cache.close()
  })

  it('a loader that gives up on ctx.signal does not start the grace backoff: the next caller loads again', async () => {
    const cache = newCache({ grace: '1h', timeouts: { soft: '5s' } })
    await cache.set('backoff', 'old', { ttl: 1 })
    await sleep(20) // now stale, within grace
    const started = gate()
    const controller = new AbortController()
    const caller = cache.getOrSet(
      'backoff',
      (ctx) =>
        new Promise<string>((_, reject) => {
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })
          started.open()
        }),
      { signal: controller.signal },
    )
    await started.opened
    controller.abort()
    await expect(caller).rejects.toMatchObject({ name: 'AbortError' })
    await sleep(50)
    // A source failure would serve 'old' for graceBackoff (10 s) without calling the loader.
    expect(await cache.getOrSet('backoff', async () => 'new')).toBe('new')
    await cache.close()
  })

  it('an abort ends the wait for a slow loader (hard timeout far away) at once', async () => {
    const cache = newCache({ timeouts: { hard: '30s' } })
    const release = gate<string>()
    const controller = new AbortController()
    const started = gate()
    const caller = cache.getOrSet(
      'slow',
      () => {
        started.open()
        return release.opened
      },
      { signal: controller.signal },
    )
    await started.opened
    const abortedAt = performance.now()
    controller.abort(new Error('client went away'))
    const outcome = await settled(caller, abortedAt)
    expect(outcome.error?.message).toBe('client went away')
    expect(outcome.ms).toBeLessThan(500)
    release.open('v')
    await cache.close()
  })

  it('getOrSetMany hands its loader the caller signal; get and getMany stop waiting on abort', async () => {
    const cache = newCache()
    const release = gate<string[]>()
    const started = gate()
    let batchSignal: AbortSignal | undefined
    const controller = new AbortController()
    const batch = cache.getOrSetMany(
      ['a', 'b'],
      (_missing, { signal }) => {
        batchSignal = signal
        started.open()
        return release.opened
      },
      { signal: controller.signal },
    )
    await started.opened
    controller.abort()
    await expect(batch).rejects.toMatchObject({ name: 'AbortError' })
    expect(batchSignal?.aborted).toBe(true)
    // The batch finishes without its caller, and its values are cached.
    release.open(['A', 'B'])
    await expect.poll(() => cache.getMany(['a', 'b']), { timeout: 2000 }).toEqual(['A', 'B'])
    // A batch loader of a caller without a signal gets one that never aborts.
    await cache.getOrSetMany(['c'], async (_missing, { signal }) => {
      expect(signal.aborted).toBe(false)
      return ['C']
    })
    await cache.close()
  })

  it('wrap() takes a signal, or one per call from the arguments', async () => {
    const cache = newCache()
    const release = gate<string>()
    const started = gate()
    const report = cache.wrap(
      async (_id: number, _signal: AbortSignal) => {
        started.open()
        return release.opened
      },
      {
        key: (id) => `report:${id}`,
        signal: (_id, signal) => signal,
      },
    )
    const controller = new AbortController()
    const call = report(1, controller.signal)
    await started.opened
    controller.abort()
    await expect(call).rejects.toMatchObject({ name: 'AbortError' })
    release.open('r')
    await cache.close()
  })

  it('many calls on one long-lived signal leave no abort listener behind', async () => {
    const cache = newCache()
    const controller = new AbortController()
    const { signal } = controller
    const calls: Array<Promise<unknown>> = []
    for (let i = 0; i < 500; i++) {
      // Misses, joined loads, hits, and the other reads.
      calls.push(cache.getOrSet(`key:${i % 50}`, async () => i, { signal }))
      calls.push(cache.getOrSetResult(`key:${i % 50}`, async () => i, { signal }))
      calls.push(cache.get(`key:${i % 50}`, { signal }))
      calls.push(cache.getMany([`key:${i % 50}`, 'absent'], { signal }))
      calls.push(cache.getOrSetMany([`many:${i % 50}`], async () => [i], { signal }))
    }
    await Promise.all(calls)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
    await cache.close()
  })

  it('reads without a signal are unchanged: nothing listens, the loader signal never aborts', async () => {
    const cache: CacheApi = newCache()
    let context: LoaderContext<number> | undefined
    expect(
      await cache.getOrSet<number>('plain', async (ctx) => {
        context = ctx
        return 1
      }),
    ).toBe(1)
    expect(context?.signal.aborted).toBe(false)
    expect(context?.signal).toBe(context?.signal) // one signal per load, made when read
    await cache.close()
  })
})
