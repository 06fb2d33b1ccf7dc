import { either as E } from 'fp-ts'
import { errors, type Infeasible, type InvalidInput, type Matrix, type ShapeMismatch } from '@sonde/oracle'
import { checkSquare, checkVector } from './validate.js'

/** P A = L U: `lu` holds L below the diagonal (unit diagonal, not stored) and U on and above it. */
export interface LuFactors {
  readonly lu: Matrix
  /** Row i of P A is row `perm[i]` of A. */
  readonly perm: Int32Array
  /** det P: +1 or −1 (det A = sign · Π diag U). */
  readonly sign: number
}

/** A has no LU factorisation with a usable pivot: column `pivot` is zero on and below the diagonal after elimination. */
export type Singular = Infeasible & { readonly pivot: number }

/**
 * LU factorisation with partial pivoting (P A = L U, the row of largest |entry| as each pivot), in place on an
 * n × n row-major array. Returns the failing column or −1. Unchecked: the loop of {@link luFactor}.
 */
export const luInPlace = (m: Float64Array, n: number, perm: Int32Array): { readonly pivot: number; readonly sign: number } => {
  let sign = 1
  for (let i = 0; i < n; i++) perm[i] = i
  for (let col = 0; col < n; col++) {
    let piv = col
    let best = Math.abs(m[col * n + col]!)
    for (let r = col + 1; r < n; r++) {
      const v = Math.abs(m[r * n + col]!)
      if (v > best) {
        best = v
        piv = r
      }
    }
    if (!(best > 0)) return { pivot: col, sign }
    if (piv !== col) {
      const a = col * n
      const b = piv * n
      for (let c = 0; c < n; c++) {
        const t = m[a + c]!
        m[a + c] = m[b + c]!
        m[b + c] = t
      }
      const t = perm[col]!
      perm[col] = perm[piv]!
      perm[piv] = t
      sign = -sign
    }
    const oc = col * n
    const d = m[oc + col]!
    // Row-major, right-looking: each elimination is a contiguous axpy on the row's tail.
    for (let r = col + 1; r < n; r++) {
      const or = r * n
      const f = m[or + col]! / d
      m[or + col] = f
      if (f === 0) continue
      for (let c = col + 1; c < n; c++) m[or + c]! -= f * m[oc + c]!
    }
  }
  return { pivot: -1, sign }
}

/** Solve A x = b from P A = L U (unchecked): x = U⁻¹ L⁻¹ P b, into a new array. */
export const luSubstitute = (lu: Float64Array, n: number, perm: Int32Array, b: ArrayLike<number>): Float64Array => {
  const x = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const o = i * n
    let s = b[perm[i]!]!
    for (let k = 0; k < i; k++) s -= lu[o + k]! * x[k]!
    x[i] = s
  }
  for (let i = n - 1; i >= 0; i--) {
    const o = i * n
    let s = x[i]!
    for (let k = i + 1; k < n; k++) s -= lu[o + k]! * x[k]!
    x[i] = s / lu[o + i]!
  }
  return x
}

/**
 * The LU factorisation P A = L U of a square matrix, with partial pivoting (Gaussian elimination, the
 * largest remaining entry of each column as pivot).
 *
 * `Singular` (an `Infeasible` naming the column) when a column has no non-zero pivot left — A is singular;
 * `InvalidInput` for a non-finite entry, `ShapeMismatch` for a non-square matrix. `a` is not modified.
 * Gotcha: partial pivoting does not detect near-singularity; look at the ratio of U's diagonal entries.
 *
 * @example
 * import { luFactor } from '@sonde/linalg'
 *
 * const f = luFactor({ rows: 2, cols: 2, data: Float64Array.of(0, 1, 2, 3) })
 * // E.right: perm [1, 0] (the rows swapped), lu = [[2, 3], [0, 1]], sign −1
 */
export const luFactor = (a: Matrix): E.Either<Singular | InvalidInput | ShapeMismatch, LuFactors> => {
  const sq = checkSquare(a, 'a')
  if (E.isLeft(sq)) return sq
  const n = sq.right.rows
  const m = sq.right.data.slice()
  const bad = m.findIndex((v) => !Number.isFinite(v))
  if (bad >= 0) return E.left(errors.invalidInput(`a[${Math.floor(bad / n)}][${bad % n}] is ${m[bad]}; expected finite entries`, `a[${Math.floor(bad / n)}][${bad % n}]`))
  const perm = new Int32Array(n)
  const { pivot, sign } = luInPlace(m, n, perm)
  if (pivot >= 0) return E.left({ ...errors.infeasible(`the matrix is singular: no non-zero pivot in column ${pivot} of ${n}`), pivot })
  return E.right({ lu: { rows: n, cols: n, data: m }, perm, sign })
}

/**
 * Solve A x = b from {@link luFactor}'s factors, O(n²).
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import { luFactor, luSolve, type LuFactors } from '@sonde/linalg'
 *
 * const a = { rows: 2, cols: 2, data: Float64Array.of(0, 1, 2, 3) }
 * const x = E.chainW((f: LuFactors) => luSolve(f, [1, 8]))(luFactor(a)) // E.right([2.5, 1])
 */
export const luSolve = (factors: LuFactors, b: ArrayLike<number>): E.Either<InvalidInput | ShapeMismatch, Float64Array> => {
  const f = factors as Partial<LuFactors> | null | undefined
  if (f === null || typeof f !== 'object' || !(f.perm instanceof Int32Array)) return E.left(errors.invalidInput('factors is not LuFactors (from luFactor)', 'factors'))
  const sq = checkSquare(f.lu, 'factors.lu')
  if (E.isLeft(sq)) return sq
  const n = sq.right.rows
  if (f.perm.length !== n) return E.left(errors.shapeMismatch('factors.perm', `${n} values`, `${f.perm.length} values`))
  const v = checkVector(b, n, 'b')
  if (E.isLeft(v)) return v
  return E.right(luSubstitute(sq.right.data, n, f.perm, v.right))
}

/**
 * Solve A x = b for a square A by LU with partial pivoting: {@link luFactor} then {@link luSolve}.
 *
 * @example
 * import { solve } from '@sonde/linalg'
 *
 * solve({ rows: 2, cols: 2, data: Float64Array.of(0, 1, 2, 3) }, [1, 8]) // E.right([2.5, 1])
 */
export const solve = (a: Matrix, b: ArrayLike<number>): E.Either<Singular | InvalidInput | ShapeMismatch, Float64Array> => E.chainW((f: LuFactors) => luSolve(f, b))(luFactor(a))
