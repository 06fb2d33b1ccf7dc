import { defineConfig, mergeConfig } from 'vitest/config'
import { sondeVitestConfig } from '../../vitest.shared.js'

// The tests run the built CLI (dist/bin.js) as a child process, as a user runs it; globalSetup builds it.
export default mergeConfig(sondeVitestConfig(), defineConfig({ test: { globalSetup: ['test/global-setup.ts'] } }))
