export { copyClassifier, type CopyOptions, type CopyResult, type CopyDiagnostics, type CopyRound, type CopyStopped } from './copy.js'
export {
  uniformBox,
  gaussian,
  jitter,
  balanced,
  boundary,
  adaptive,
  fromGenerator,
  type Sampler,
  type SamplerContext,
  type SamplerSetup,
  type Labelled,
} from './samplers.js'
export { softmaxCopy, treeCopy, type CopyFamily, type TrainedCopy, type OptionIssue } from './families.js'
export { empiricalFidelityError, replacementCapability, uniformAgreement, classBalance, type Agreement, type Replacement } from './metrics.js'
export { copyingProbe, copyingReport, type CopyingProbeOptions } from './probe.js'
