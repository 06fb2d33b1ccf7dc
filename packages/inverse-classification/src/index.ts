export {
  DEFAULT_MARGIN,
  softmaxLogits,
  type InverseOptions,
  type InverseResult,
  type LogisticModel,
  type SoftmaxModel,
  type Solution,
} from './problem.js'
export { inverseLogistic } from './logistic.js'
export { inverseSoftmax, inverseSoftmaxBatch, prepareSoftmax, type PreparedSoftmax } from './softmax.js'
export { kktResidual, type LinearConstraints } from './constraints.js'
export type { GramCache } from './gram.js'
export { counterfactual, type CounterfactualOptions, type CounterfactualResult, type Surrogate } from './counterfactual.js'
export { counterfactualReport } from './report.js'
export { inverseClassificationProbe, type InverseProbeOptions } from './probe.js'
