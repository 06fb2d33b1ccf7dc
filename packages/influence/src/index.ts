export {
  prepareInverseHvp,
  topEigenvalue,
  type Examples,
  type InverseHvp,
  type InverseHvpMethod,
  type InverseHvpOptions,
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
export { influenceProbe, type InfluenceProbeOptions, type InfluenceProbeResult } from './probe.js'
export { validateAgainstRetraining, pearson, type RetrainingValidation } from './validate.js'
export { relativeError } from './linalg.js'
