import { sondeVitestConfig } from '../../vitest.shared.js'

export default sondeVitestConfig()
