import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const serverRoot = fileURLToPath(new URL('..', import.meta.url))
const sources = join(serverRoot, 'src')
const serverPackage = JSON.parse(readFileSync(join(serverRoot, 'package.json'), 'utf8'))
const libraryPackage = JSON.parse(readFileSync(join(serverRoot, '../cachet/package.json'), 'utf8'))
const publicSubpaths = new Set(
  Object.keys(libraryPackage.exports)
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) => (subpath === '.' ? 'cachet' : `cachet/${subpath.slice(2)}`)),
)

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Every module specifier of a file: static imports and exports, and dynamic import() calls. */
function specifiers(code: string): string[] {
  const statement =
    /^(?:import|export)\s+(?:type\s+)?(?:\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s*'([^']+)'/gm
  const bare = /^import\s+'([^']+)'/gm
  const dynamic = /\bimport\(\s*'([^']+)'\s*\)/g
  return [statement, bare, dynamic].flatMap((pattern) =>
    [...code.matchAll(pattern)].map((match) => match[1]!),
  )
}

function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

describe('the demo server uses the library as an application would', () => {
  it('imports cachet only through its published exports, and nothing outside its own package', () => {
    const offending: string[] = []
    for (const file of sourceFiles(sources)) {
      for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
        const where = `${relative(serverRoot, file)}: '${specifier}'`
        if (specifier.startsWith('.')) {
          const target = resolve(dirname(file), specifier)
          if (relative(sources, target).startsWith('..')) offending.push(`${where} leaves the package`)
        } else if (specifier.startsWith('node:')) {
          // Node's own modules.
        } else if (packageName(specifier) === 'cachet') {
          if (!publicSubpaths.has(specifier)) offending.push(`${where} is not a published export of cachet`)
        } else if (!(packageName(specifier) in serverPackage.dependencies)) {
          offending.push(`${where} is not a dependency of the server package`)
        }
      }
    }
    expect(offending).toEqual([])
  })

  it('finds the imports it checks (the check would pass vacuously otherwise)', () => {
    const all = sourceFiles(sources).flatMap((file) => specifiers(readFileSync(file, 'utf8')))
    expect(all).toContain('cachet')
    expect(all).toContain('cachet/admin')
    expect(all.filter((specifier) => specifier.startsWith('./')).length).toBeGreaterThan(10)
  })
})
