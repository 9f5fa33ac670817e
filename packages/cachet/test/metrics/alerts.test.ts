import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const execute = promisify(execFile)
/** promtool, run from the package root (the paths below and in the fixture are relative to it). */
const run = (command: string, args: string[]) =>
  execute(command, args, { cwd: fileURLToPath(new URL('../..', import.meta.url)) })
const hasPromtool = (process.env.PATH ?? '').split(delimiter).some((dir) => {
  try {
    accessSync(join(dir, 'promtool'), constants.X_OK)
    return true
  } catch {
    return false
  }
})
if (!hasPromtool)
  console.warn('docs/alerts.yml not checked: promtool is not on PATH (apt-get install prometheus)')

describe.skipIf(!hasPromtool)('docs/alerts.yml, by promtool', () => {
  it('is valid Prometheus rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', 'docs/alerts.yml'])
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/)
  })

  it("fires seed 003's query cache alerts on the figures they name, and not below them", async () => {
    const { stdout } = await run('promtool', [
      'test',
      'rules',
      'test/metrics/fixtures/query-cache-alerts.test.yml',
    ])
    expect(stdout).toMatch(/SUCCESS/)
  })

  it("fires seed 001's alerts (hit rate < 50 %, errors > 10) on its figures, and not below them", async () => {
    const { stdout } = await run('promtool', [
      'test',
      'rules',
      'test/metrics/fixtures/seed-001-alerts.test.yml',
    ])
    expect(stdout).toMatch(/SUCCESS/)
  })
})
