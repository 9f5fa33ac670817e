// After `tsc`, copies the files the compiled code serves but tsc does not emit (the dashboard page).
import { cpSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
cpSync(join(root, 'src/admin/dashboard'), join(root, 'dist/admin/dashboard'), {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
})
