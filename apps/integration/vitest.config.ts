import { defineConfig } from 'vitest/config'

// No '@sonde/source' condition here: these tests exercise what users get, the built packages.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], testTimeout: 120_000, pool: 'forks' },
})
