import { createRequire } from 'node:module'
import { MissingPeerError } from './errors.js'

const load = createRequire(import.meta.url)

/**
 * Loads an optional peer dependency of a subpath (`cachet/nestjs` needs `@nestjs/common`) at the
 * moment the subpath is imported, and names the package to install when it is missing: a static
 * `import` would fail first, with a bare ERR_MODULE_NOT_FOUND that does not say which subpath
 * needed it. Loaded through `require`, so CommonJS peers are the same instance the application uses.
 */
export function requirePeer<T>(name: string, usedBy: string): T {
  try {
    return load(name) as T
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && isAbout(error, name)) {
      throw new MissingPeerError(`${usedBy} needs the package '${name}': npm install ${name}`, {
        cause: error,
      })
    }
    throw error
  }
}

/** True when the missing module is the peer itself, not something the peer failed to load. */
function isAbout(error: unknown, name: string): boolean {
  return String((error as Error).message).includes(`'${name}'`)
}
