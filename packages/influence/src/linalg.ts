import { either as E } from 'fp-ts'
import { errors, type Infeasible, type Matrix } from '@sonde/oracle'
import { dot, norm2 } from '@sonde/models'

/**
 * ‖a − b‖₂ / ‖b‖₂ (or ‖a − b‖₂ when b = 0): e.g. an s_test from CG or LiSSA against the exact one.
 *
 * @example
 * relativeError(lissa.x, exact.x) // 0.011
 */
export const relativeError = (a: Float64Array, b: Float64Array): number => {
  let num = 0
  for (let i = 0; i < a.length; i++) num += (a[i]! - b[i]!) ** 2
  const den = norm2(b)
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num) / den
}

/**
 * Lower Cholesky factor of a symmetric positive definite p × p matrix (row-major), as a new
 * array: A + shift·I = L Lᵀ. Row-oriented, so the inner loop is a dot product of two contiguous
 * row prefixes. `Infeasible` names the pivot when the matrix is not positive definite.
 */
export const cholesky = (a: Matrix, shift = 0): E.Either<Infeasible, Float64Array> => {
  const p = a.rows
  const l = new Float64Array(p * p)
  for (let i = 0; i < p; i++) {
    const ri = l.subarray(i * p, i * p + i)
    for (let j = 0; j <= i; j++) {
      const rj = l.subarray(j * p, j * p + j)
      const s = a.data[i * p + j]! + (i === j ? shift : 0) - dot(ri.subarray(0, j), rj)
      if (i === j) {
        if (!(s > 0)) {
          return E.left(
            errors.infeasible(
              `the damped Hessian is not positive definite (pivot ${i} of ${p} is ${s.toExponential(3)}); raise options.damping`,
            ),
          )
        }
        l[i * p + i] = Math.sqrt(s)
      } else {
        l[i * p + j] = s / l[j * p + j]!
      }
    }
  }
  return E.right(l)
}

/** Solve L z = b (forward substitution) into a new vector. */
export const forwardSolve = (l: Float64Array, p: number, b: ArrayLike<number>): Float64Array => {
  const z = new Float64Array(p)
  for (let i = 0; i < p; i++) z[i] = (b[i]! - dot(l.subarray(i * p, i * p + i), z.subarray(0, i))) / l[i * p + i]!
  return z
}

/** Solve Lᵀ x = z (back substitution) in place. */
export const backSolve = (l: Float64Array, p: number, z: Float64Array): Float64Array => {
  for (let i = p - 1; i >= 0; i--) {
    const v = z[i]! / l[i * p + i]!
    z[i] = v
    // Column i of Lᵀ is row i of L: subtract v·L[i, k] from z[k] for k < i.
    const o = i * p
    for (let k = 0; k < i; k++) z[k]! -= v * l[o + k]!
  }
  return z
}

/** Solve (L Lᵀ) x = b. */
export const choleskySolve = (l: Float64Array, p: number, b: ArrayLike<number>): Float64Array => backSolve(l, p, forwardSolve(l, p, b))

