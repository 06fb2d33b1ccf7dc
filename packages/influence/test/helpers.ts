import { either as E } from 'fp-ts'
import { takeRows, type Matrix } from '@sonde/oracle'
import type { TwiceDifferentiable } from '@sonde/models'
import type { Dataset } from '@sonde/datasets'
import type { Examples } from '../src/index.js'

export const unwrap = <A>(e: E.Either<{ readonly message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

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
export const without = (train: Examples, j: number): Examples => {
  const keep = Int32Array.from({ length: train.x.rows - 1 }, (_, i) => (i < j ? i : i + 1))
  return { x: takeRows(train.x, keep), y: Int32Array.from(keep, (i) => train.y[i]!) }
}

/** Actual change in the loss of `test` row 0 when training row j is removed and the model refit to ‖∇F‖ ≤ tol. */
export const leaveOneOut = (model: TwiceDifferentiable, train: Examples, test: Examples, j: number, tol = 1e-10): number => {
  const before = model.losses(test.x, test.y)
  const loo = without(train, j)
  const refit = unwrap(model.refit(loo.x, loo.y, { tol }))
  const after = refit.model.losses(test.x, test.y)
  return after[0]! - before[0]!
}

/** 2×2 average pooling of 28×28 digits: 196 features. */
export const pool2 = (ds: Dataset): Dataset => {
  const n = ds.x.rows
  const out = new Float64Array(n * 196)
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < 14; r++) {
      for (let c = 0; c < 14; c++) {
        const o = i * 784 + 2 * r * 28 + 2 * c
        out[i * 196 + r * 14 + c] = (ds.x.data[o]! + ds.x.data[o + 1]! + ds.x.data[o + 28]! + ds.x.data[o + 29]!) / 4
      }
    }
  }
  const x: Matrix = { rows: n, cols: 196, data: out }
  return { ...ds, x, inputShape: [14, 14, 1] }
}

/** Index of the first row the model misclassifies (argmax of its logits). */
export const firstMisclassified = (logits: Matrix, y: Int32Array): number => {
  for (let i = 0; i < logits.rows; i++) {
    let best = 0
    for (let c = 1; c < logits.cols; c++) if (logits.data[i * logits.cols + c]! > logits.data[i * logits.cols + best]!) best = c
    if (best !== y[i]) return i
  }
  return -1
}
