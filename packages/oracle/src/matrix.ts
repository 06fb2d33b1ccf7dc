/**
 * A dense row-major matrix of float64 values: the only shape in which data crosses the
 * Oracle boundary (no tensors: remote and ONNX oracles have none, and tfjs has no float64).
 *
 * Row `i`, column `j` lives at `data[i * cols + j]`.
 *
 * @example
 * import type { Matrix } from '@sonde/oracle'
 *
 * const x: Matrix = { rows: 2, cols: 3, data: new Float64Array(6) }
 */
export interface Matrix {
  readonly rows: number
  readonly cols: number
  readonly data: Float64Array
}

/**
 * Make a `rows × cols` matrix, zero-filled or wrapping `data` (not copied).
 *
 * Gotcha: throws a `RangeError` if `data.length !== rows * cols` — this is a programming error,
 * not a data error; use {@link validateQuery} for user-supplied queries.
 *
 * @example
 * import { matrix } from '@sonde/oracle'
 *
 * const identity = matrix(2, 2, Float64Array.of(1, 0, 0, 1))
 * const zeros = matrix(3, 4) // 3×4, zero-filled
 */
export const matrix = (rows: number, cols: number, data?: Float64Array): Matrix => {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`matrix: rows and cols must be non-negative integers, got ${rows}×${cols}`)
  }
  const d = data ?? new Float64Array(rows * cols)
  if (d.length !== rows * cols) {
    throw new RangeError(`matrix: data has ${d.length} values; ${rows}×${cols} needs ${rows * cols}`)
  }
  return { rows, cols, data: d }
}

/**
 * Build a matrix from an array of equally long rows (copied).
 *
 * @example
 * import { fromRows } from '@sonde/oracle'
 *
 * const x = fromRows([[0, 1], [2, 3]]) // 2×2
 */
export const fromRows = (rows: ReadonlyArray<ArrayLike<number>>): Matrix => {
  const n = rows.length
  const d = n === 0 ? 0 : rows[0]!.length
  const data = new Float64Array(n * d)
  rows.forEach((r, i) => {
    if (r.length !== d) throw new RangeError(`fromRows: row ${i} has ${r.length} values; row 0 has ${d}`)
    for (let j = 0; j < d; j++) data[i * d + j] = r[j]!
  })
  return { rows: n, cols: d, data }
}

/**
 * A view of row `i` (shares memory with the matrix; copy it before mutating).
 *
 * @example
 * import { fromRows, row } from '@sonde/oracle'
 *
 * const x = fromRows([[0, 1], [2, 3]])
 * const first = row(x, 0) // Float64Array [0, 1]
 */
export const row = (m: Matrix, i: number): Float64Array => m.data.subarray(i * m.cols, (i + 1) * m.cols)

/**
 * The rows of `m` at `indices`, in that order, copied into a new matrix.
 *
 * @example
 * import { fromRows, takeRows } from '@sonde/oracle'
 *
 * const x = fromRows([[0, 1], [2, 3], [4, 5]])
 * const lastTwo = takeRows(x, [1, 2]) // rows [2, 3] and [4, 5]
 */
export const takeRows = (m: Matrix, indices: ArrayLike<number>): Matrix => {
  const out = new Float64Array(indices.length * m.cols)
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!
    if (!(i >= 0 && i < m.rows)) throw new RangeError(`takeRows: index ${i} at position ${k} is outside 0..${m.rows - 1}`)
    out.set(row(m, i), k * m.cols)
  }
  return { rows: indices.length, cols: m.cols, data: out }
}

/**
 * Stack matrices with equal column counts on top of each other.
 *
 * @example
 * import { concatRows, fromRows } from '@sonde/oracle'
 *
 * const both = concatRows([fromRows([[0, 1]]), fromRows([[2, 3], [4, 5]])]) // 3×2
 */
export const concatRows = (parts: ReadonlyArray<Matrix>): Matrix => {
  const cols = parts[0]?.cols ?? 0
  let rows = 0
  for (const p of parts) {
    if (p.cols !== cols) throw new RangeError(`concatRows: a part has ${p.cols} columns; the first has ${cols}`)
    rows += p.rows
  }
  const data = new Float64Array(rows * cols)
  let offset = 0
  for (const p of parts) {
    data.set(p.data, offset)
    offset += p.data.length
  }
  return { rows, cols, data }
}

/**
 * The fraction of positions where two label arrays agree.
 *
 * Gotcha: throws a `RangeError` for arrays of different lengths or no labels at all — agreement over
 * nothing is undefined, not 1 (callers check their point counts first).
 *
 * @example
 * import { labelAgreement } from '@sonde/oracle'
 *
 * const agreement = labelAgreement(Int32Array.of(0, 1, 1, 2), Int32Array.of(0, 1, 2, 2)) // 0.75
 */
export const labelAgreement = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new RangeError(`labelAgreement: ${a.length} labels against ${b.length}`)
  if (a.length === 0) throw new RangeError('labelAgreement: no labels; agreement over no points is undefined')
  let same = 0
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++
  return same / a.length
}

/**
 * The predicted label of each row of a score matrix: the argmax over columns (first maximum on
 * ties, NaN entries ignored), or for a single-column matrix (one logit or one probability of
 * the positive class) `1` where the score is above the threshold and `0` otherwise.
 *
 * `threshold` applies only to one column: 0 for a logit, 0.5 for a probability.
 *
 * @example
 * import { fromRows, labelsFromScores } from '@sonde/oracle'
 *
 * const labels = labelsFromScores(fromRows([[0.1, 0.9], [0.8, 0.2]])) // Int32Array [1, 0]
 * const fromProbabilities = labelsFromScores(fromRows([[0.7], [0.3]]), 0.5) // Int32Array [1, 0]
 */
export const labelsFromScores = (scores: Matrix, threshold = 0): Int32Array => {
  const labels = new Int32Array(scores.rows)
  const k = scores.cols
  const d = scores.data
  if (k === 1) {
    for (let i = 0; i < scores.rows; i++) labels[i] = d[i]! > threshold ? 1 : 0
    return labels
  }
  for (let i = 0; i < scores.rows; i++) {
    let best = -1
    let bestValue = -Infinity
    for (let j = 0; j < k; j++) {
      const v = d[i * k + j]!
      if (v > bestValue || (best < 0 && v === bestValue)) {
        best = j
        bestValue = v
      }
    }
    labels[i] = best < 0 ? 0 : best
  }
  return labels
}
