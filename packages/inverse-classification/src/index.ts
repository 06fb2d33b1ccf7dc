export {
  DEFAULT_MARGIN,
  type InverseOptions,
  type InverseResult,
  type LogisticModel,
  type SoftmaxModel,
} from './problem.js'
export { inverseLogistic } from './logistic.js'
export { inverseSoftmax, inverseSoftmaxBatch, prepareSoftmax, type PreparedSoftmax } from './softmax.js'
export { kktResidual, type LinearConstraints } from './constraints.js'
