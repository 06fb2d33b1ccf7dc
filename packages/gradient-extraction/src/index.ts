export { extractLinear } from './linear.js'
export { extractReluNetwork, type ReluExtractionOptions } from './relu.js'
export { compareOracles, randomPoints, type Extraction, type ExtractionQueries, type Fidelity, type FidelityPoints } from './extraction.js'
export { gradientMatchingCopy, matchingLoss, type GradientMatchingOptions, type GradientMatchingResult, type MatchTarget } from './matching.js'
