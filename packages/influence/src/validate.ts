import { either as E, taskEither as TE } from 'fp-ts'
import { errors, noQueries, stage, type ProbeError, type QueryUsage, type RunControl } from '@sonde/oracle'
import { refitWith, type FitOptions, type TwiceDifferentiable } from '@sonde/models'
import { checkControl, checkObject, controlOf, guarded, modelShape, optionalSeed, validateExamples, validateModel } from './common.js'
import type { Examples } from './inverse-hvp.js'
import { mostInfluential, type InfluenceScores } from './influence.js'

/** The outcome of {@link validateAgainstRetraining}. */
export interface RetrainingValidation {
  /** The training rows checked (largest |score| first). */
  readonly indices: Int32Array
  /** Predicted change in the test loss when each is removed (the influence scores). */
  readonly predicted: Float64Array
  /** Actual change after removing it and refitting (warm-started). */
  readonly actual: Float64Array
  /** Pearson correlation of predicted and actual. */
  readonly pearson: number
  /** Least-squares slope of actual on predicted (1 when the scale is right). */
  readonly slope: number
  /** Refits run (one per index). */
  readonly refits: number
  /** Oracle queries spent: none. */
  readonly queries: QueryUsage
  /** Recorded (default 0): the check makes no random choice. */
  readonly seed: number
}

/** Options of {@link validateAgainstRetraining}. */
export interface RetrainingValidationOptions extends RunControl {
  /** Training points checked, largest |score| first (default 50, at least 2). */
  readonly count?: number
  /** The test row whose scores are checked (default 0). */
  readonly testRow?: number
  /** Options of each refit (warm-started from the model). */
  readonly fit?: FitOptions
  /** Recorded in the result (default 0); nothing is random. */
  readonly seed?: number
}

const isNumbers = (u: unknown): u is ArrayLike<number> => (Array.isArray(u) || ArrayBuffer.isView(u)) && typeof (u as { length?: unknown }).length === 'number'

/**
 * Pearson correlation of two equally long series: NaN when either is constant, when they differ in
 * length or are not arrays of numbers (undefined, never a throw).
 *
 * @example
 * import { pearson } from '@sonde/influence'
 *
 * const r = pearson([1, 2, 3], [2, 4, 7]) // 0.993
 */
export const pearson = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (!isNumbers(a) || !isNumbers(b) || a.length !== b.length || a.length < 2) return Number.NaN
  const n = a.length
  let ma = 0
  let mb = 0
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n
    mb += b[i]! / n
  }
  let sab = 0
  let saa = 0
  let sbb = 0
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb)
    saa += (a[i]! - ma) ** 2
    sbb += (b[i]! - mb) ** 2
  }
  return sab / Math.sqrt(saa * sbb)
}

/** The training set without row j. */
const without = (train: Examples, j: number): Examples => {
  const d = train.x.cols
  const n = train.x.rows
  const data = new Float64Array((n - 1) * d)
  data.set(train.x.data.subarray(0, j * d))
  data.set(train.x.data.subarray((j + 1) * d), j * d)
  const y = new Int32Array(n - 1)
  y.set(train.y.subarray(0, j))
  y.set(train.y.subarray(j + 1), j)
  return { x: { rows: n - 1, cols: d, data }, y }
}

/**
 * Check influence scores the way Koh & Liang do (their Figure 2): remove each of the `count`
 * training points of largest |score| for test point `testRow`, refit (warm-started, to
 * `fit.tol`), and compare the actual change in that test loss with the predicted one. Costs
 * `count` refits: the honest check before trusting scores on a new model. Progress per refit
 * (`'retraining'`); `options.signal` stops it with `Aborted`.
 *
 * @example
 * // fragment: a fitted model, its data and influence scores for its test points (influenceOnTest)
 * import { toPromise } from '@sonde/oracle'
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { validateAgainstRetraining, type Examples, type InfluenceScores } from '@sonde/influence'
 *
 * declare const model: TwiceDifferentiable
 * declare const train: Examples
 * declare const test: Examples
 * declare const scores: InfluenceScores
 * const check = await toPromise(validateAgainstRetraining(model, train, test, scores, { count: 50 }))
 * console.log(check.pearson) // predicted against actual loss changes after 50 refits
 */
export const validateAgainstRetraining = (
  model: TwiceDifferentiable,
  train: Examples,
  test: Examples,
  scores: Pick<InfluenceScores, 'scores'>,
  options: RetrainingValidationOptions = {},
): TE.TaskEither<ProbeError, RetrainingValidation> =>
  guarded(async () => {
    const checks = [validateModel(model), checkObject(options), checkControl(options)]
    for (const c of checks) if (E.isLeft(c)) return c
    const seed = optionalSeed(options.seed)
    if (E.isLeft(seed)) return seed
    const shape = modelShape(model)
    const tr = validateExamples(train, 'train', shape.inputDim, shape.numClasses)
    if (E.isLeft(tr)) return tr
    const te = validateExamples(test, 'test', train.x.cols, shape.numClasses)
    if (E.isLeft(te)) return te
    const testRow = options.testRow ?? 0
    const count = options.count ?? 50
    const sc = (scores as Partial<Pick<InfluenceScores, 'scores'>> | null)?.scores
    if (sc === undefined || sc === null || !(sc.data instanceof Float64Array)) return E.left(errors.invalidInput('scores.scores is not a Matrix', 'scores'))
    if (sc.cols !== train.x.rows) return E.left(errors.shapeMismatch('scores', `${train.x.rows} columns (one per training row)`, `${sc.cols}`))
    if (!(Number.isInteger(testRow) && testRow >= 0 && testRow < test.x.rows && testRow < sc.rows)) {
      return E.left(errors.invalidOptions([{ path: 'options.testRow', message: `is ${String(testRow)}; expected 0..${Math.min(test.x.rows, sc.rows) - 1}` }]))
    }
    if (!(Number.isInteger(count) && count >= 2)) return E.left(errors.invalidOptions([{ path: 'options.count', message: `is ${String(count)}; expected an integer ≥ 2` }]))
    const d = test.x.cols
    const one = { x: { rows: 1, cols: d, data: test.x.data.slice(testRow * d, (testRow + 1) * d) }, y: test.y.slice(testRow, testRow + 1) }
    const before = model.losses(one.x, one.y)[0]!
    const ranked = mostInfluential({ scores: sc }, testRow, count, 'absolute')
    if (E.isLeft(ranked)) return ranked
    const indices = ranked.right
    const predicted = new Float64Array(indices.length)
    const actual = new Float64Array(indices.length)
    const progress = stage(controlOf(options), 'retraining', indices.length)
    for (const [k, j] of indices.entries()) {
      const ok = await progress.tick(k)
      if (E.isLeft(ok)) return ok
      const loo = without(train, j)
      const refit = await refitWith(model, loo.x, loo.y, { ...options.fit, ...controlOf(options) })()
      if (E.isLeft(refit)) return refit
      predicted[k] = sc.data[testRow * sc.cols + j]!
      actual[k] = refit.right.model.losses(one.x, one.y)[0]! - before
    }
    let num = 0
    let den = 0
    for (let k = 0; k < indices.length; k++) {
      num += actual[k]! * predicted[k]!
      den += predicted[k]! ** 2
    }
    return E.right({ indices, predicted, actual, pearson: pearson(predicted, actual), slope: num / den, refits: indices.length, queries: noQueries, seed: seed.right })
  })
