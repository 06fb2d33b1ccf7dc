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
 * import { loadIris, stratifiedSplit, subset } from '@sonde/datasets'
 *
 * const iris = loadIris()
 * const { train } = stratifiedSplit(iris.y, { testFraction: 0.2, seed: 1 })
 * const trainSet = subset(iris, train) // 120 flowers, 40 of each species
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

/**
 * Rows per class.
 *
 * @example
 * import { classCounts } from '@sonde/datasets'
 *
 * const counts = classCounts(Int32Array.of(0, 2, 2, 1), 3) // Int32Array [1, 1, 2]
 */
export const classCounts = (y: Int32Array, numClasses: number): Int32Array => {
  if (typeof numClasses !== 'number' || !Number.isSafeInteger(numClasses) || numClasses < 1) throw new RangeError(`classCounts: numClasses is ${String(numClasses)}; expected a positive integer`)
  const counts = new Int32Array(numClasses)
  for (const [i, l] of y.entries()) {
    if (!(l >= 0 && l < numClasses)) throw new RangeError(`classCounts: y[${i}] is ${l}; expected a class in 0..${numClasses - 1}`)
    counts[l]!++
  }
  return counts
}

/**
 * Plant a systematic labelling error (a "slice"), for evaluating debugging tools: the fraction
 * `fraction` of the rows of class `from` with the least ink (sum of values: the thinnest digits)
 * get label `to`. Returns the new labels and which rows changed; `ds` is untouched.
 *
 * @example
 * // fragment: needs MNIST digits (see loadMnist)
 * import { plantThinSlice, type Dataset } from '@sonde/datasets'
 *
 * declare const train: Dataset
 * const { y, changed } = plantThinSlice(train, { from: 6, to: 1, fraction: 0.25 }) // Defuse's "skinny 6"
 */
export const plantThinSlice = (
  ds: Pick<Dataset, 'x' | 'y'>,
  o: { readonly from: number; readonly to: number; readonly fraction: number },
): { readonly y: Int32Array; readonly changed: Int32Array; readonly threshold: number } => {
  if (!(o.fraction > 0 && o.fraction <= 1)) throw new RangeError(`plantThinSlice: fraction is ${o.fraction}; expected a number in (0, 1]`)
  const { x } = ds
  const rows = Array.from(ds.y.keys()).filter((i) => ds.y[i] === o.from)
  const ink = new Map<number, number>()
  for (const i of rows) {
    let s = 0
    for (let j = 0; j < x.cols; j++) s += x.data[i * x.cols + j]!
    ink.set(i, s)
  }
  const sorted = [...rows].sort((a, b) => ink.get(a)! - ink.get(b)! || a - b)
  const changed = Int32Array.from(sorted.slice(0, Math.floor(o.fraction * rows.length))).sort()
  const y = ds.y.slice()
  for (const i of changed) y[i] = o.to
  const threshold = changed.length === 0 ? -Infinity : ink.get(sorted[changed.length - 1]!)!
  return { y, changed, threshold }
}
