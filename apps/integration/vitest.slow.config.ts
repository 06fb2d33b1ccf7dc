import { defineConfig } from 'vitest/config'

// The slow tier of the integration tests (see vitest.config.ts).
export default defineConfig({
  test: { include: ['test/**/*.slow.test.ts'], testTimeout: 600_000, hookTimeout: 600_000, pool: 'forks', maxWorkers: 1 },
})
