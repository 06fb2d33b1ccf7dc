export { matrix, fromRows, row, takeRows, concatRows, labelsFromScores, labelAgreement, type Matrix } from './matrix.js'
export { featureBounds, domainBounds, randomQueries, clipToDomain } from './domain.js'
export {
  errors,
  errorFromThrown,
  isOracleError,
  isRetryable,
  SondeError,
  type InvalidInput,
  type ShapeMismatch,
  type InvalidOptions,
  type BudgetExhausted,
  type Transport,
  type BadResponse,
  type Timeout,
  type Aborted,
  type NotConverged,
  type Infeasible,
  type Unidentifiable,
  type TrainingFailed,
  type PluginFailed,
  type MissingCapability,
  type OracleError,
  type ProbeError,
  type ErrorTag,
} from './errors.js'
export {
  hasGradients,
  capabilitiesOf,
  type Capability,
  type Domain,
  type GradientOracle,
  type Oracle,
  type OracleInfo,
  type OutputKind,
  type Prediction,
} from './oracle.js'
export { validateQuery, validateClasses, validateScores, validatePrediction, validateLabels, validateGradient, validateInfo } from './validate.js'
export {
  fromFunction,
  labelThreshold,
  type FromFunctionOptions,
  type GradientFunction,
  type PredictFunction,
} from './adapters/function.js'
export { guardPredict, guardGradient, emptyPrediction } from './adapters/guard.js'
export { extendOracle } from './middleware/extend.js'
export { meter, type Metered, type Usage } from './middleware/meter.js'
export { budget, type BudgetLimit, type BudgetState, type Budgeted } from './middleware/budget.js'
export { batch } from './middleware/batch.js'
export { cache, type CacheOptions, type CacheStats, type Cached } from './middleware/cache.js'
export { labelOnly, topK } from './middleware/reveal.js'
export { retry, type RetryOptions } from './middleware/retry.js'
export { timeout, withTimeout } from './middleware/timeout.js'
export {
  makeContext,
  makeRegistry,
  runProbe,
  reportOf,
  describeProbe,
  requirementsOf,
  type AnyProbe,
  type Probe,
  type ProbeContext,
  type ProbeResult,
  type Registry,
  type Requirements,
  type RunProbeOptions,
} from './probe.js'
export { stage, checkSignal, abortable, type ProgressEvent, type RunControl, type Stage } from './control.js'
export { z, schemas, decodeWith, jsonSchemaOf, type Schema, type JsonSchema, type Examples, type MatrixConstraints, type VectorConstraints } from './schema.js'
export { trackQueries, usageOf, addUsage, noQueries, type QueryUsage, type Tracked } from './usage.js'
export {
  notJsonSafe,
  reportNumber,
  reportArray,
  type ProbeReport,
  type ReportFigure,
  type ReportMetric,
  type ReportSeries,
  type ReportTable,
  type ReportValue,
} from './report.js'
export { toPromise } from './promise.js'
export { createRng, validateSeed, permutation, type Rng } from './rng.js'
