import { defineConfig } from 'vitest/config'

// Tests read sibling packages' sources through the '@sonde/source' export condition,
// so a change in one package is seen by the others without a build.
export const sondeVitestConfig = (overrides: { readonly testTimeout?: number } = {}) =>
  defineConfig({
    resolve: { conditions: ['@sonde/source', 'import', 'module', 'node', 'default'] },
    ssr: { resolve: { conditions: ['@sonde/source', 'import', 'module', 'node', 'default'] } },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 30_000,
      pool: 'forks',
    },
  })
