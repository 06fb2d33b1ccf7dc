import type { Matrix } from '@sonde/oracle'

/** A labelled dataset: one row of `x` per label in `y`. */
export interface Dataset {
  readonly x: Matrix
  readonly y: Int32Array
  readonly numClasses: number
  readonly classNames?: readonly string[]
  /** The natural shape of one row, e.g. `[28, 28, 1]`. */
  readonly inputShape?: readonly number[]
}

/**
 * The rows of a dataset at `indices`, in that order.
 *
 * @example
 * const { train } = stratifiedSplit(mnist.y, { testFraction: 0.2, seed: 1 })
 * const trainSet = subset(mnist, train)
 */
export const subset = (ds: Dataset, indices: ArrayLike<number>): Dataset => {
  const d = ds.x.cols
  const data = new Float64Array(indices.length * d)
  const y = new Int32Array(indices.length)
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!
    if (!(i >= 0 && i < ds.x.rows)) throw new RangeError(`subset: index ${i} at position ${k} is outside 0..${ds.x.rows - 1}`)
    data.set(ds.x.data.subarray(i * d, (i + 1) * d), k * d)
    y[k] = ds.y[i]!
  }
  return { ...ds, x: { rows: indices.length, cols: d, data }, y }
}

/** Rows per class. */
export const classCounts = (y: Int32Array, numClasses: number): Int32Array => {
  const counts = new Int32Array(numClasses)
  for (const l of y) counts[l]!++
  return counts
}
