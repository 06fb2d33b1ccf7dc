import { defineConfig } from 'vitest/config'

/**
 * The two test tiers.
 *
 * - `fast` (`npm test`): every `test/**\/*.test.ts` except `*.slow.test.ts` — each property at the smallest
 *   size that proves it.
 * - `slow` (`npm run test:slow`): the `test/**\/*.slow.test.ts` files — the paper-scale versions of the same
 *   checks (MNIST trainings, leave-one-out at n = 5,040, …).
 *
 * Timeouts are four times (or more) a test's measured duration alone, so that a machine with other work
 * beside the suite slows it without failing it. The defaults below cover tests that take ≤ 15 s (fast) or
 * ≤ 150 s (slow) alone; a test that needs more states its own timeout next to its measured time.
 */
export type TestTier = 'fast' | 'slow'

const timeouts: Record<TestTier, number> = { fast: 60_000, slow: 600_000 }

// Tests read sibling packages' sources through the '@sonde/source' export condition,
// so a change in one package is seen by the others without a build.
export const sondeVitestConfig = (overrides: { readonly tier?: TestTier; readonly testTimeout?: number } = {}) => {
  const tier = overrides.tier ?? 'fast'
  const timeout = overrides.testTimeout ?? timeouts[tier]
  return defineConfig({
    resolve: { conditions: ['@sonde/source', 'import', 'module', 'node', 'default'] },
    ssr: { resolve: { conditions: ['@sonde/source', 'import', 'module', 'node', 'default'] } },
    test: {
      include: tier === 'slow' ? ['test/**/*.slow.test.ts'] : ['test/**/*.test.ts'],
      exclude: tier === 'slow' ? ['**/node_modules/**'] : ['**/node_modules/**', 'test/**/*.slow.test.ts'],
      testTimeout: timeout,
      hookTimeout: timeout,
      pool: 'forks',
      // turbo runs one task per core (`--concurrency=100%` in the root scripts); each test task runs its
      // files one after another, so the suite never asks for more cores than the machine has.
      maxWorkers: 1,
    },
  })
}
