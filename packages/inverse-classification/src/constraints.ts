import { clip } from './problem.js'

/**
 * Linear constraints gⱼ(x) = aⱼᵀx + cⱼ ≥ 0, j = 0..m−1, given by products so that a softmax
 * model's K × D weights are never copied into an (K−1) × D matrix.
 */
export interface LinearConstraints {
  readonly m: number
  /** aⱼᵀx + cⱼ. */
  readonly value: (j: number, x: Float64Array) => number
  /** out += α·aⱼ. */
  readonly addRow: (j: number, alpha: number, out: Float64Array) => void
  /** Every gⱼ(x) at once (faster than m calls of `value` when the rows share work). */
  readonly values: (x: Float64Array) => Float64Array
}

/**
 * The KKT residual of min ½‖x − x0‖² s.t. gⱼ(x) ≥ 0, lower ≤ x ≤ upper, at (x, λ): the largest of
 * primal infeasibility (constraints and box), negative multipliers, complementarity |λⱼ gⱼ(x)|,
 * and stationarity ‖x − clip(x0 + Σⱼ λⱼ aⱼ)‖∞ (the box multipliers are implicit in the clip).
 * Zero exactly at the optimum; this is the certificate every solver's answer carries.
 *
 * Gotcha: malformed arguments (lengths that disagree, a constraint callback that throws or returns a
 * non-number) give NaN, which fails every `residual <= tolerance` check — never a small number.
 *
 * @example
 * // fragment: a problem's constraints and a solver's answer (x, λ)
 * import { kktResidual, type LinearConstraints } from '@sonde/inverse-classification'
 *
 * declare const constraints: LinearConstraints
 * declare const x: Float64Array, x0: Float64Array, lower: Float64Array, upper: Float64Array, lambda: Float64Array
 * const r = kktResidual(constraints, x, x0, lower, upper, lambda) // 0 at the optimum, up to rounding
 */
export const kktResidual = (
  cons: LinearConstraints,
  x: Float64Array,
  x0: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
  lambda: Float64Array,
): number => {
  const arrays = [x, x0, lower, upper]
  if (cons === null || typeof cons !== 'object' || !Number.isSafeInteger(cons.m) || cons.m < 0) return Number.NaN
  if (!arrays.every((a) => a instanceof Float64Array && a.length === x.length) || !(lambda instanceof Float64Array) || lambda.length !== cons.m) return Number.NaN
  try {
    return residual(cons, x, x0, lower, upper, lambda)
  } catch {
    return Number.NaN
  }
}

const residual = (cons: LinearConstraints, x: Float64Array, x0: Float64Array, lower: Float64Array, upper: Float64Array, lambda: Float64Array): number => {
  let r = 0
  const y = x0.slice()
  const all = cons.values(x)
  if (!(all instanceof Float64Array) || all.length !== cons.m) return Number.NaN
  for (let j = 0; j < cons.m; j++) {
    const g = all[j]!
    r = Math.max(r, -g, -lambda[j]!, Math.abs(lambda[j]! * g))
    if (lambda[j] !== 0) cons.addRow(j, lambda[j]!, y)
  }
  for (let i = 0; i < x.length; i++) {
    r = Math.max(r, lower[i]! - x[i]!, x[i]! - upper[i]!, Math.abs(x[i]! - clip(y[i]!, lower[i]!, upper[i]!)))
  }
  // Math.max ignores nothing: one NaN term makes r NaN, as it should.
  return r
}
