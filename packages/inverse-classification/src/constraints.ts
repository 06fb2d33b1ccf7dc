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
 */
export const kktResidual = (
  cons: LinearConstraints,
  x: Float64Array,
  x0: Float64Array,
  lower: Float64Array,
  upper: Float64Array,
  lambda: Float64Array,
): number => {
  let r = 0
  const y = x0.slice()
  const all = cons.values(x)
  for (let j = 0; j < cons.m; j++) {
    const g = all[j]!
    r = Math.max(r, -g, -lambda[j]!, Math.abs(lambda[j]! * g))
    if (lambda[j] !== 0) cons.addRow(j, lambda[j]!, y)
  }
  for (let i = 0; i < x.length; i++) {
    r = Math.max(r, lower[i]! - x[i]!, x[i]! - upper[i]!, Math.abs(x[i]! - clip(y[i]!, lower[i]!, upper[i]!)))
  }
  return r
}
