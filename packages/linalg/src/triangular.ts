import { either as E } from 'fp-ts'
import { errors, type InvalidInput, type Matrix, type ShapeMismatch } from '@sonde/oracle'
import { checkSquare, checkVector } from './validate.js'

/**
 * Solve L z = b by forward substitution, L lower triangular (p × p row-major; only the lower triangle is read),
 * into `out` (a new array by default). Unchecked: the caller guarantees the shapes and a non-zero diagonal —
 * the loop of {@link solveLower} and of the other packages' hot paths.
 */
export const forwardSubstitute = (l: Float64Array, p: number, b: ArrayLike<number>, out: Float64Array = new Float64Array(p), unitDiagonal = false): Float64Array => {
  for (let i = 0; i < p; i++) {
    const o = i * p
    let s0 = b[i]!
    let s1 = 0
    let k = 0
    for (; k + 1 < i; k += 2) {
      s0 -= l[o + k]! * out[k]!
      s1 -= l[o + k + 1]! * out[k + 1]!
    }
    if (k < i) s0 -= l[o + k]! * out[k]!
    out[i] = unitDiagonal ? s0 + s1 : (s0 + s1) / l[o + i]!
  }
  return out
}

/**
 * Solve Lᵀ x = z by back substitution, in place in `z` (row i of L is column i of Lᵀ: an axpy per row, so L is
 * read row by row). Unchecked, as {@link forwardSubstitute}.
 */
export const backSubstituteTransposed = (l: Float64Array, p: number, z: Float64Array): Float64Array => {
  for (let i = p - 1; i >= 0; i--) {
    const o = i * p
    const v = z[i]! / l[o + i]!
    z[i] = v
    for (let k = 0; k < i; k++) z[k]! -= v * l[o + k]!
  }
  return z
}

/** Solve U x = z, U upper triangular (the upper triangle of `u` is read), in place in `z`. Unchecked. */
export const backSubstitute = (u: Float64Array, p: number, z: Float64Array): Float64Array => {
  for (let i = p - 1; i >= 0; i--) {
    const o = i * p
    let s = z[i]!
    for (let k = i + 1; k < p; k++) s -= u[o + k]! * z[k]!
    z[i] = s / u[o + i]!
  }
  return z
}

/** Solve (L Lᵀ) x = b with the Cholesky factor L, into a new array. Unchecked. */
export const choleskySubstitute = (l: Float64Array, p: number, b: ArrayLike<number>): Float64Array => backSubstituteTransposed(l, p, forwardSubstitute(l, p, b))

type SolveError = InvalidInput | ShapeMismatch

const checkTriangular = (l: unknown, b: unknown): E.Either<SolveError, { readonly m: Matrix; readonly b: ArrayLike<number> }> => {
  const sq = checkSquare(l, 'l')
  if (E.isLeft(sq)) return sq
  const m = sq.right
  const p = m.rows
  for (let i = 0; i < p; i++) {
    const d = m.data[i * p + i]!
    if (!(Number.isFinite(d) && d !== 0)) return E.left(errors.invalidInput(`l[${i}][${i}] is ${d}; a triangular factor needs a finite, non-zero diagonal`, `l[${i}][${i}]`))
  }
  const v = checkVector(b, p, 'b')
  return E.isLeft(v) ? v : E.right({ m, b: v.right })
}

/**
 * Solve L z = b for a lower-triangular L (only its lower triangle is read).
 *
 * `InvalidInput` for a zero or non-finite diagonal or a non-finite `b`; `ShapeMismatch` when `b` is not p long.
 * O(p²); the diagonal and `b` are checked, the off-diagonal entries are not (a NaN there gives NaN, as in LAPACK).
 *
 * @example
 * import { solveLower } from '@sonde/linalg'
 *
 * const l = { rows: 2, cols: 2, data: Float64Array.of(2, 0, 1, 4) }
 * solveLower(l, [2, 9]) // E.right(Float64Array [1, 2])
 */
export const solveLower = (l: Matrix, b: ArrayLike<number>): E.Either<SolveError, Float64Array> =>
  E.map(({ m, b: v }: { readonly m: Matrix; readonly b: ArrayLike<number> }) => forwardSubstitute(m.data, m.rows, v))(checkTriangular(l, b))

/**
 * Solve Lᵀ x = b for a lower-triangular L (the second half of a Cholesky solve), into a new array.
 *
 * @example
 * import { solveLowerTransposed } from '@sonde/linalg'
 *
 * const l = { rows: 2, cols: 2, data: Float64Array.of(2, 0, 1, 4) }
 * solveLowerTransposed(l, [4, 8]) // E.right(Float64Array [1.5, 2]): [[2, 1], [0, 4]] x = [4, 8]
 */
export const solveLowerTransposed = (l: Matrix, b: ArrayLike<number>): E.Either<SolveError, Float64Array> =>
  E.map(({ m, b: v }: { readonly m: Matrix; readonly b: ArrayLike<number> }) => backSubstituteTransposed(m.data, m.rows, Float64Array.from(v)))(checkTriangular(l, b))

/**
 * Solve A x = b from A's Cholesky factor L (A = L Lᵀ, from {@link cholesky}): two triangular solves, O(p²).
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import type { Matrix } from '@sonde/oracle'
 * import { cholesky, solveCholesky } from '@sonde/linalg'
 *
 * const a = { rows: 2, cols: 2, data: Float64Array.of(4, 2, 2, 3) }
 * const x = E.chainW((l: Matrix) => solveCholesky(l, [2, 1]))(cholesky(a)) // E.right([0.5, 0])
 */
export const solveCholesky = (l: Matrix, b: ArrayLike<number>): E.Either<SolveError, Float64Array> =>
  E.map(({ m, b: v }: { readonly m: Matrix; readonly b: ArrayLike<number> }) => choleskySubstitute(m.data, m.rows, v))(checkTriangular(l, b))
