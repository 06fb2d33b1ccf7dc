import { sondeVitestConfig } from '../../vitest.shared.js'

// The slow tier: the built site (`npm run docs:build`, which turbo runs before this task) in Debian's chromium.
export default sondeVitestConfig({ tier: 'slow' })
