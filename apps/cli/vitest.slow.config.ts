import { defineConfig, mergeConfig } from 'vitest/config'
import { sondeVitestConfig } from '../../vitest.shared.js'

// The slow tier: the browser check of report.html, kill -9 and resume, the launcher unbuilt and built, a saved tfjs
// model end to end. Like the fast tier, they run the built CLI as a child process; globalSetup builds it.
export default mergeConfig(sondeVitestConfig({ tier: 'slow' }), defineConfig({ test: { globalSetup: ['test/global-setup.ts'] } }))
