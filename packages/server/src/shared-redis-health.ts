import type { CacheApi } from 'cachet'

/**
 * The cache as the admin API sees it when the audit log and the event streams live in the cache's own
 * Redis: its health names that among its reasons, since eviction there can drop audit records and
 * stream entries. The status is left as measured (a chosen layout is not a fault, as an INFO refused
 * by an ACL is not); every other member is the cache's own.
 */
export function reportingSharedRedis(cache: CacheApi): CacheApi {
  const reason =
    'the audit log and the event streams share the evicting cache Redis: set CACHET_DURABLE_REDIS_URL'
  const health: CacheApi['health'] = async () => {
    const report = await cache.health()
    return { ...report, reasons: [...report.reasons, reason] }
  }
  return new Proxy(cache, {
    get(target, property) {
      if (property === 'health') return health
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
