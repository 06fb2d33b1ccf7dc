import { either as E, type taskEither as TE } from 'fp-ts'
import { takeRows, type Matrix } from '@sonde/oracle'
import type { TwiceDifferentiable } from '@sonde/models'
import { downsampleImages, type Dataset } from '@sonde/datasets'
import type { Examples } from '../src/index.js'

export { pearson } from '../src/index.js'

export const unwrap = <A>(e: E.Either<{ readonly message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

/** Run a TaskEither and unwrap its Right (a test fails on Left). */
export const run = async <A>(te: TE.TaskEither<{ readonly message: string }, A>): Promise<A> => unwrap(await te())

/** The training set without row j. */
export const without = (train: Examples, j: number): Examples => {
  const keep = Int32Array.from({ length: train.x.rows - 1 }, (_, i) => (i < j ? i : i + 1))
  return { x: takeRows(train.x, keep), y: Int32Array.from(keep, (i) => train.y[i]!) }
}

/** Actual change in the loss of `test` row 0 when training row j is removed and the model refit to ‖∇F‖ ≤ tol. */
export const leaveOneOut = (model: TwiceDifferentiable, train: Examples, test: Examples, j: number, tol = 1e-10): number => {
  const before = model.losses(test.x, test.y)
  const loo = without(train, j)
  const refit = unwrap(model.refit(loo.x, loo.y, { tol }))
  return refit.model.losses(test.x, test.y)[0]! - before[0]!
}

/** 14×14 digits: 196 features. */
export const pool2 = (ds: Dataset): Dataset => downsampleImages(ds, { width: 28, height: 28, factor: 2 })

/** Index of the first row the model misclassifies (argmax of its logits). */
export const firstMisclassified = (logits: Matrix, y: Int32Array): number => {
  for (let i = 0; i < logits.rows; i++) {
    let best = 0
    for (let c = 1; c < logits.cols; c++) if (logits.data[i * logits.cols + c]! > logits.data[i * logits.cols + best]!) best = c
    if (best !== y[i]) return i
  }
  return -1
}

/** max |a − b| over max |a|: the worst difference relative to the largest entry of `a`. */
export const maxRelativeDifference = (a: Float64Array, b: Float64Array): number => {
  let worst = 0
  let scale = 0
  for (let q = 0; q < a.length; q++) {
    worst = Math.max(worst, Math.abs(a[q]! - b[q]!))
    scale = Math.max(scale, Math.abs(a[q]!))
  }
  return worst / scale
}
