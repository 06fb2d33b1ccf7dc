import { defineConfig } from 'vitest/config'

// No '@sonde/source' condition here: these tests exercise what users get, the built packages.
// Tiers as in ../../vitest.shared.ts: `*.slow.test.ts` run only under vitest.slow.config.ts. Two workers: this
// task needs every build, so it runs last, when the other test tasks are done or finishing — one core would
// idle otherwise (its files mostly wait on child processes: recipes, README examples, npm).
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], exclude: ['**/node_modules/**', 'test/**/*.slow.test.ts'], testTimeout: 60_000, hookTimeout: 60_000, pool: 'forks', maxWorkers: 2 },
})
