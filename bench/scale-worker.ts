/**
 * One application instance of the scale benchmark (bench/scale.ts forks N of them): a cache on the
 * shared Redis serving a fixed load, READS_PER_S getOrSet over KEYS keys and WRITES_PER_S tagged set()
 * (each one an invalidation every other instance receives). Reports what the measured window cost it.
 */
import { engineOf } from '../packages/cachet/src/core/engine-of.js'
import { createCache } from '../packages/cachet/src/index.js'

/** What the parent sends: the load and the window. */
export interface WorkerPlan {
  redisUrl: string
  readsPerS: number
  writesPerS: number
  keys: number
  tags: number
  warmupMs: number
  windowMs: number
}

/** What a worker measured over the window. */
export interface WorkerFigures {
  /** Bus messages from other instances, applied to this instance's L1. */
  received: number
  /** Time spent applying them to L1, in ms. */
  applyMs: number
  /** Invalidations this instance published (its writes). */
  published: number
  reads: number
  /** Redis reads (GET) and writes (SET, tag index) this instance issued. */
  l2Reads: number
  l2Writes: number
  /** User + system CPU of the process, in ms. */
  cpuMs: number
  windowMs: number
  /** Bus gaps (every L1 entry made suspect) since the cache was created, with their reasons. */
  gaps: string[]
}

const TICK_MS = 10
const value = { name: 'a product', price: 1999, tags: ['a', 'b', 'c'], description: 'x'.repeat(150) }

async function run(plan: WorkerPlan): Promise<WorkerFigures> {
  const cache = createCache({ redis: plan.redisUrl, prefix: 'scale', logger: false, l2: { timeout: '2s' } })
  const engine = engineOf(cache)
  let received = 0
  let applyMs = 0
  const gaps: string[] = []
  cache.on('l1-flush', ({ reason }) => gaps.push(reason))
  const apply = engine.onBusMessage.bind(engine)
  // Synchronous: its wall time is CPU time (the socket read and JSON.parse before it are not counted).
  engine.onBusMessage = (message) => {
    const started = performance.now()
    apply(message)
    applyMs += performance.now() - started
    received++
  }
  // Every key in Redis and in this instance's L1 before the load starts: the window measures the
  // steady state, not the filling.
  for (let i = 0; i < plan.keys; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, plan.keys - i) }, (_, j) =>
        cache.getOrSet(`item:${i + j}`, () => value, { ttl: '10m', tags: [`t${(i + j) % plan.tags}`] }),
      ),
    )
  }
  // Connected, subscribed and filled before the parent starts every instance at once.
  process.send!({ ready: true })
  await new Promise((resolve) => process.once('message', resolve))
  let reads = 0
  let published = 0
  let cursor = Math.floor(Math.random() * plan.keys)
  const readsPerTick = (plan.readsPerS * TICK_MS) / 1000
  const writesPerTick = (plan.writesPerS * TICK_MS) / 1000
  let readCredit = 0
  let writeCredit = 0
  // A fixed rate, not a closed loop: every instance offers the same load whatever N is.
  const timer = setInterval(() => {
    readCredit += readsPerTick
    writeCredit += writesPerTick
    for (; readCredit >= 1; readCredit--) {
      const n = cursor++ % plan.keys
      reads++
      void cache.getOrSet(`item:${n}`, () => value, { ttl: '10m', tags: [`t${n % plan.tags}`] })
    }
    for (; writeCredit >= 1; writeCredit--) {
      const n = Math.floor(Math.random() * plan.keys)
      published++
      void cache.set(`item:${n}`, value, { ttl: '10m', tags: [`t${n % plan.tags}`] })
    }
  }, TICK_MS)

  await new Promise((resolve) => setTimeout(resolve, plan.warmupMs))
  const start = {
    applyMs,
    received,
    published,
    reads,
    l2Reads: engine.stats.l2Hits + engine.stats.l2Misses,
    l2Writes: engine.stats.sets,
    cpu: process.cpuUsage(),
    at: performance.now(),
  }
  await new Promise((resolve) => setTimeout(resolve, plan.windowMs))
  const cpu = process.cpuUsage(start.cpu)
  const figures: WorkerFigures = {
    received: received - start.received,
    applyMs: applyMs - start.applyMs,
    published: published - start.published,
    reads: reads - start.reads,
    l2Reads: engine.stats.l2Hits + engine.stats.l2Misses - start.l2Reads,
    l2Writes: engine.stats.sets - start.l2Writes,
    cpuMs: (cpu.user + cpu.system) / 1000,
    windowMs: performance.now() - start.at,
    gaps,
  }
  clearInterval(timer)
  await cache.close()
  return figures
}

process.once('message', async (plan: WorkerPlan) => {
  process.send!({ figures: await run(plan) })
  process.disconnect()
})
