import type { CacheApi } from './cache-api.js'
import type { Engine } from './engine.js'
import { InvalidOptionError } from './errors.js'

const engines = new WeakMap<CacheApi, Engine>()

/** Called by the Cache constructor: lets cachet's own add-ons reach the engine behind a cache. */
export function registerEngine(cache: CacheApi, engine: Engine): void {
  engines.set(cache, engine)
}

/** The engine behind a cache made by createCache() (or one of its namespaces). */
export function engineOf(cache: CacheApi): Engine {
  const engine = engines.get(cache)
  if (!engine) throw new InvalidOptionError('cache must be a cache made by createCache()')
  return engine
}
