export { cholesky, choleskyTask, type CholeskyOptions, type CholeskyTaskOptions, type NotPositiveDefinite } from './cholesky.js'
export { gram, gramBlocks, type GramOptions, type GramBlocksOptions } from './gram.js'
export { luFactor, luSolve, solve, luInPlace, luSubstitute, type LuFactors, type Singular } from './lu.js'
export {
  solveLower,
  solveLowerTransposed,
  solveCholesky,
  forwardSubstitute,
  backSubstitute,
  backSubstituteTransposed,
  choleskySubstitute,
} from './triangular.js'
export { kernelsAvailable } from './available.js'
