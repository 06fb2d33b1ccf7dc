import { either as E } from 'fp-ts'
import { errors, type Aborted, type Infeasible, type InvalidInput, type Matrix, type ShapeMismatch, type Stage } from '@sonde/oracle'
import { norm2 } from '@sonde/models'
import { choleskySubstitute, choleskyTask } from '@sonde/linalg'

const isNumbers = (u: unknown): u is ArrayLike<number> => (Array.isArray(u) || ArrayBuffer.isView(u)) && typeof (u as { length?: unknown }).length === 'number'

/**
 * ‖a − b‖₂ / ‖b‖₂ (or ‖a − b‖₂ when b = 0): e.g. an s_test from CG or LiSSA against the exact one.
 * NaN when the two are not equally long arrays of numbers.
 *
 * @example
 * import { relativeError } from '@sonde/influence'
 *
 * const e = relativeError(Float64Array.of(1.01, 2), Float64Array.of(1, 2)) // 0.01 / √5 ≈ 0.0045
 */
export const relativeError = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  // Total for a JavaScript caller: anything but two equally long arrays is NaN (undefined), never a throw.
  if (!isNumbers(a) || !isNumbers(b) || a.length !== b.length) return Number.NaN
  let num = 0
  for (let i = 0; i < a.length; i++) num += (a[i]! - b[i]!) ** 2
  const den = norm2(b)
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num) / den
}

/**
 * Cholesky factorisation A + shift·I = L Lᵀ of the damped Hessian, **in place** (L overwrites `a.data`; only
 * its lower triangle is read): `@sonde/linalg`'s blocked kernel on both cores, with progress (rows factored
 * of p) and abort through `s`. A failed pivot is `Infeasible` naming it and what to raise.
 */
export const choleskyInPlace = async (a: Matrix, shift: number, s: Stage): Promise<E.Either<Infeasible | Aborted | InvalidInput | ShapeMismatch, Float64Array>> => {
  const l = await choleskyTask(a, { shift, inPlace: true, stage: s })
  if (E.isRight(l)) return E.right(l.right.data)
  const e = l.left
  return E.left(e._tag === 'Infeasible' && 'pivot' in e ? errors.infeasible(`the damped Hessian is not positive definite (pivot ${e.pivot} of ${a.rows} is ${e.value.toExponential(3)}); raise options.damping`) : e)
}

/** Solve (L Lᵀ) x = b into a new vector. */
export const choleskySolve = (l: Float64Array, p: number, b: ArrayLike<number>): Float64Array => choleskySubstitute(l, p, b)
