// After `tsc`, writes a `.d.cts` beside every `.d.ts` in dist/, its relative imports pointing at
// `.cjs` names. The package's `require` condition points TypeScript at them: a CommonJS project
// (NestJS' default) then sees cachet's types as CommonJS and compiles `require('cachet')`, which
// Node ≥ 20.19 answers with the same ES module an `import` gets: one copy of the code at run time.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')

for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue
  const file = join(entry.parentPath, entry.name)
  const source = readFileSync(file, 'utf8')
  const cjs = source.replace(/((?:from|import)\s*\(?\s*'\.{1,2}\/[^']*?)\.js'/g, "$1.cjs'")
  writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), cjs)
}
