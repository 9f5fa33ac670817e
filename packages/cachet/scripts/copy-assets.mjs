// After `tsc`, copies the files the compiled code serves but tsc does not emit: the dashboard page,
// and the minified build of its chart library (uPlot), so the package needs no uPlot at run time.
import { cpSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dashboard = join(root, 'dist/admin/dashboard')
cpSync(join(root, 'src/admin/dashboard'), dashboard, {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
})
const require = createRequire(join(root, 'package.json'))
for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) {
  cpSync(require.resolve(`uplot/dist/${file}`), join(dashboard, 'vendor', file))
}
