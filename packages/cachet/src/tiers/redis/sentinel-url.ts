import type { RedisOptions } from 'ioredis'
import { InvalidOptionError } from '../../core/errors.js'

/** The scheme of a Sentinel URL: `redis+sentinel://[user:password@]host:port[,host:port…]/name[?db=N]`. */
const SENTINEL_SCHEME = 'redis+sentinel:'

/** True for a `redis+sentinel://` URL. */
export function isSentinelUrl(url: string): boolean {
  return url.toLowerCase().startsWith(`${SENTINEL_SCHEME}//`)
}

/**
 * ioredis Sentinel options from a `redis+sentinel://` URL: the comma-separated sentinels, the master
 * name as the path, credentials of the data nodes in the user part, an optional `?db=`.
 * Throws InvalidOptionError naming what is wrong (the message never repeats the password).
 */
export function parseSentinelUrl(url: string): RedisOptions {
  const match = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)\/?(?:\?([^#]*))?$/i.exec(url)
  if (!match) {
    throw new InvalidOptionError('a Sentinel URL is redis+sentinel://host:port[,host:port…]/masterName')
  }
  const [, credentials, hostList, name, query] = match
  const sentinels = hostList!.split(',').map((hostPort) => {
    const address = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(hostPort)
    const port = Number(address?.[2] ?? 26379)
    if (!address || port < 1 || port > 65535) {
      throw new InvalidOptionError(
        `a Sentinel URL lists an invalid sentinel address: ${JSON.stringify(hostPort)}`,
      )
    }
    return { host: address[1]!.replace(/^\[|\]$/g, ''), port }
  })
  const options: RedisOptions = { sentinels, name: decodeURIComponent(name!) }
  if (credentials) {
    const colon = credentials.indexOf(':')
    const username = colon < 0 ? credentials : credentials.slice(0, colon)
    if (username) options.username = decodeURIComponent(username)
    if (colon >= 0) options.password = decodeURIComponent(credentials.slice(colon + 1))
  }
  const db = new URLSearchParams(query ?? '').get('db')
  if (db !== null) {
    if (!/^\d{1,2}$/.test(db))
      throw new InvalidOptionError(`a Sentinel URL's db must be a number, got ${JSON.stringify(db)}`)
    options.db = Number(db)
  }
  return options
}
