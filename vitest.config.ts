import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    // Failovers and multi-process runs: `npm run test:faults` (vitest.faults.config.ts).
    exclude: ['**/node_modules/**', 'packages/*/test/**/*.fault.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    // Server start-ups (PGlite, a demo database, redis-server) took over 60 s once on a starved machine.
    hookTimeout: 120_000,
    // Every test file starts its own redis-server on a free port, so files run in parallel safely.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
