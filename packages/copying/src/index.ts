export { copyClassifier, type CopyOptions, type CopyResult, type CopyDiagnostics } from './copy.js'
export { uniformBox, gaussian, jitter, balanced, boundary, adaptive, fromGenerator, type Sampler, type SamplerContext, type Labelled } from './samplers.js'
export { softmaxCopy, mlpCopy, treeCopy, type CopyFamily, type TrainedCopy } from './families.js'
export { empiricalFidelityError, replacementCapability, uniformAgreement, classBalance } from './metrics.js'
