import type { CacheApi, CacheEvents } from '../index.js'

interface Load {
  tags: readonly string[]
  obsolete: boolean
}

/**
 * The SQL loads this query cache has running, each flagged once an invalidation touching it completes.
 * The engine's getOrSet lets a new caller join a load in flight even when an invalidation has made it
 * obsolete (the load will not be cached, but its result is still handed to joiners). A query that starts
 * after an invalidation completed must see the new data, so it refreshes instead of joining.
 */
export class RunningLoads {
  #loads = new Map<string, Load>()
  #cache: CacheApi
  #listener = (event: CacheEvents['invalidate']) => this.#onInvalidate(event)

  constructor(cache: CacheApi) {
    this.#cache = cache
    cache.on('invalidate', this.#listener)
  }

  /** Records a load; returns what end() needs. */
  start(key: string, tags: readonly string[]): Load {
    const load = { tags, obsolete: false }
    this.#loads.set(key, load)
    return load
  }

  end(key: string, load: Load): void {
    if (this.#loads.get(key) === load) this.#loads.delete(key)
  }

  /** True when a load of `key` is running and an invalidation touching it has completed since it started. */
  isObsolete(key: string): boolean {
    return this.#loads.get(key)?.obsolete === true
  }

  close(): void {
    this.#cache.off('invalidate', this.#listener)
  }

  #onInvalidate(event: CacheEvents['invalidate']): void {
    for (const [key, load] of this.#loads) {
      if (
        event.pattern !== undefined ||
        event.tags?.some((tag) => load.tags.includes(tag)) ||
        // Keys in events are relative to the cache's prefix, with its namespace if the cache is one.
        event.keys?.some((invalidated) => invalidated === key || invalidated.endsWith(`:${key}`))
      ) {
        load.obsolete = true
      }
    }
  }
}
