import { defineConfig } from 'vitest/config'

// No '@sonde/source' condition here: these tests exercise what users get, the built packages.
// Tiers as in ../../vitest.shared.ts: `*.slow.test.ts` run only under vitest.slow.config.ts.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], exclude: ['**/node_modules/**', 'test/**/*.slow.test.ts'], testTimeout: 60_000, hookTimeout: 60_000, pool: 'forks', maxWorkers: 1 },
})
