import { sondeVitestConfig } from '../../vitest.shared.js'

// The tests run the built CLI (dist/bin.js) as a child process, as a user runs it; globalSetup builds it.
const base = sondeVitestConfig()
export default { ...base, test: { ...base.test, globalSetup: ['test/global-setup.ts'] } }
