import { sondeVitestConfig } from '../../vitest.shared.js'

export default sondeVitestConfig({ tier: 'slow' })
