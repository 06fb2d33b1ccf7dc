import { sondeVitestConfig } from '../../vitest.shared.js'

const base = sondeVitestConfig({ tier: 'slow' })
export default { ...base, test: { ...base.test, globalSetup: ['test/global-setup.ts'] } }
