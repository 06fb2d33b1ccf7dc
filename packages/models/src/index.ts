export { LogisticRegression, type LogisticParams } from './logistic.js'
export { SoftmaxRegression, type SoftmaxParams } from './softmax.js'
export {
  LinearClassifier,
  refitWith,
  type TwiceDifferentiable,
  type FitOptions,
  type Fitted,
  type LinearOracleOptions,
} from './linear.js'
export { conjugateGradient, conjugateGradientSteps, dot, norm2, type CgResult, type FitReport } from './optimize.js'
export { TwoLayerRelu, randomTwoLayerRelu, type TwoLayerReluParams, type RandomReluOptions } from './relu.js'
