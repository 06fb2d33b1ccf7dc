export { extractLinear, type LinearExtraction, type LinearExtractionOptions } from './linear.js'
export { extractReluNetwork, type ReluBisection, type ReluExtraction, type ReluExtractionOptions, type ReluStrategy, type ReluVerification } from './relu.js'
export { compareOracles, randomPoints, type Extraction, type ExtractionQueries, type Fidelity, type FidelityPoints } from './extraction.js'
export {
  linearExtractionProbe,
  reluExtractionProbe,
  gradientMatchingProbe,
  type CopyEvaluation,
  type GradientMatchingProbeOptions,
  type GradientMatchingProbeResult,
  type LinearExtractionProbeOptions,
  type LinearExtractionProbeResult,
  type ReluExtractionProbeOptions,
} from './probe.js'
export { linearReport, reluReport, matchingReport } from './report.js'
