export {
  prepareInverseHvp,
  topEigenvalue,
  validateInverseHvpOptions,
  type Examples,
  type InverseHvp,
  type InverseHvpMethod,
  type InverseHvpOptions,
  type SolveOptions,
  type SolveReport,
} from './inverse-hvp.js'
export {
  influenceOnTest,
  scoresFromSTest,
  mostInfluential,
  selfInfluence,
  rankSuspiciousLabels,
  inputInfluence,
  type InfluenceScores,
  type InfluenceOptions,
  type SelfInfluence,
  type SuspiciousLabels,
  type InputInfluence,
  type InputInfluenceOptions,
} from './influence.js'
export { trainingSetAttack, type TrainingSetAttackOptions, type TrainingSetAttack, type AttackOutcome } from './attack.js'
export { inputInfluenceThrough, type FeatureMap, type InputInfluenceThroughOptions } from './features.js'
export { influenceProbe, type InfluenceProbeOptions, type InfluenceProbeResult, type InfluenceModelSource } from './probe.js'
export { influenceReport } from './report.js'
export { modelFromJson, modelToJson, loadModelFile, type SavedLinearModel } from './model-file.js'
export { validateAgainstRetraining, pearson, type RetrainingValidation, type RetrainingValidationOptions } from './validate.js'
export { relativeError } from './linalg.js'
