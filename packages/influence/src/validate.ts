import { either as E } from 'fp-ts'
import { errors, type ProbeError } from '@sonde/oracle'
import type { FitOptions, TwiceDifferentiable } from '@sonde/models'
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
}

/** Pearson correlation of two equally long series (NaN when either is constant). */
export const pearson = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
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
 * `count` refits: the honest check before trusting scores on a new model.
 *
 * @example
 * const check = validateAgainstRetraining(model, train, test, scores, { count: 50 })
 * if (E.isRight(check)) console.log(check.right.pearson)
 */
export const validateAgainstRetraining = (
  model: TwiceDifferentiable,
  train: Examples,
  test: Examples,
  scores: Pick<InfluenceScores, 'scores'>,
  options: { readonly count?: number; readonly testRow?: number; readonly fit?: FitOptions } = {},
): E.Either<ProbeError, RetrainingValidation> => {
  const testRow = options.testRow ?? 0
  const count = options.count ?? 50
  if (scores.scores.cols !== train.x.rows) return E.left(errors.shapeMismatch('scores', `${train.x.rows} columns (one per training row)`, `${scores.scores.cols}`))
  if (!(Number.isInteger(testRow) && testRow >= 0 && testRow < test.x.rows)) return E.left(errors.invalidOptions([{ path: 'options.testRow', message: `is ${testRow}; expected 0..${test.x.rows - 1}` }]))
  if (!(Number.isInteger(count) && count >= 2)) return E.left(errors.invalidOptions([{ path: 'options.count', message: `is ${count}; expected an integer ≥ 2` }]))
  const d = test.x.cols
  const one = { x: { rows: 1, cols: d, data: test.x.data.slice(testRow * d, (testRow + 1) * d) }, y: test.y.slice(testRow, testRow + 1) }
  const before = model.losses(one.x, one.y)[0]!
  const indices = mostInfluential(scores, testRow, count, 'absolute')
  const predicted = new Float64Array(indices.length)
  const actual = new Float64Array(indices.length)
  for (const [k, j] of indices.entries()) {
    const loo = without(train, j)
    const refit = model.refit(loo.x, loo.y, options.fit)
    if (E.isLeft(refit)) return refit
    predicted[k] = scores.scores.data[testRow * scores.scores.cols + j]!
    actual[k] = refit.right.model.losses(one.x, one.y)[0]! - before
  }
  let num = 0
  let den = 0
  for (let k = 0; k < indices.length; k++) {
    num += actual[k]! * predicted[k]!
    den += predicted[k]! ** 2
  }
  return E.right({ indices, predicted, actual, pearson: pearson(predicted, actual), slope: num / den, refits: indices.length })
}
