import type { CacheApi, CacheEvents } from './cache-api.js'

/** Listeners for some of the cache's events, one per event. */
export type CacheListeners = { [E in keyof CacheEvents]?: (payload: CacheEvents[E]) => void }

/** Registers each listener on `cache`; returns what removes them all again. */
export function listenAll(cache: Pick<CacheApi, 'on' | 'off'>, listeners: CacheListeners): () => void {
  const subscriptions = Object.entries(listeners) as Array<
    [keyof CacheEvents, (payload: CacheEvents[keyof CacheEvents]) => void]
  >
  for (const [event, listener] of subscriptions) cache.on(event, listener)
  return () => {
    for (const [event, listener] of subscriptions) cache.off(event, listener)
  }
}
