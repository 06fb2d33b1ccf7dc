import { either as E } from 'fp-ts'
import { errors, type Matrix, type ProbeError } from '@sonde/oracle'

/** A logistic model as `@sonde/models` exposes it: P(y = 1 | x) = σ(wᵀx + b). */
export interface LogisticModel {
  readonly weights: Float64Array
  readonly bias: number
}

/** A softmax model as `@sonde/models` exposes it: logits W x + b, W is K × D. */
export interface SoftmaxModel {
  readonly weights: Matrix
  readonly bias: Float64Array
}

/**
 * What to reach: a `target` class with either a logit `margin` ε over every other class or a
 * target `probability` p; optional box bounds and features that may not change.
 */
export interface InverseOptions {
  /** The class the answer must be assigned to. */
  readonly target: number
  /**
   * Logit margin ε ≥ 0 over every other class: f_target(x) − f_j(x) ≥ ε. Default
   * {@link DEFAULT_MARGIN} when `probability` is not given: small enough not to move the answer
   * measurably, large enough that float64 rounding cannot leave the point on the boundary.
   */
  readonly margin?: number
  /** Target probability p ∈ (0, 1): P(target | x) ≥ p. Mutually exclusive with `margin`. */
  readonly probability?: number
  /** Lower bounds: one number for every feature or one per feature (−Infinity allowed). */
  readonly lower?: number | Float64Array
  /** Upper bounds: one number for every feature or one per feature (+Infinity allowed). */
  readonly upper?: number | Float64Array
  /** Indices of features that keep their value in `x0`. */
  readonly immutable?: readonly number[]
}

/** The default logit margin: 1e-6. */
export const DEFAULT_MARGIN = 1e-6

/** The answer of an exact inverse-classification solver. */
export interface InverseResult {
  /** The closest point in the target class (Euclidean), within the bounds, immutables unchanged. */
  readonly x: Float64Array
  /** ‖x − x0‖₂. */
  readonly distance: number
  /** The largest violation of the KKT conditions at `x` (primal, dual, complementarity, stationarity). */
  readonly kktResidual: number
  /** Iterations of the solver (0 when x0 already satisfies the target). */
  readonly iterations: number
  /** The competing classes whose constraints bind at the solution (multiplier > 0). */
  readonly activeClasses: Int32Array
  /** The Lagrange multipliers of the competing classes' constraints, by class (0 for the target). */
  readonly multipliers: Float64Array
}

/** Options resolved against a model: bounds per feature with immutables folded in. */
export interface ResolvedProblem {
  readonly target: number
  readonly mode: 'margin' | 'probability'
  readonly margin: number
  readonly probability: number
  readonly x0: Float64Array
  readonly lower: Float64Array
  readonly upper: Float64Array
  /** True when some bound is finite. */
  readonly boxed: boolean
}

const fail = (message: string, path: string): E.Either<ProbeError, never> => E.left(errors.invalidInput(message, path))

const bounds = (b: number | Float64Array | undefined, d: number, fill: number, name: string): E.Either<ProbeError, Float64Array> => {
  if (b === undefined) return E.right(new Float64Array(d).fill(fill))
  if (typeof b === 'number') {
    if (Number.isNaN(b)) return fail(`options.${name} is NaN`, `options.${name}`)
    return E.right(new Float64Array(d).fill(b))
  }
  if (!(b instanceof Float64Array) || b.length !== d) {
    return E.left(errors.shapeMismatch(`options.${name}`, `a number or a Float64Array of ${d} values`, `${b?.length} values`))
  }
  for (let i = 0; i < d; i++) if (Number.isNaN(b[i]!)) return fail(`options.${name}[${i}] is NaN`, `options.${name}[${i}]`)
  return E.right(b.slice())
}

/**
 * Check `x0` and the options against a model with `d` features and `k` classes and fold the
 * immutable features into the bounds (lower = upper = x0 there).
 */
export const resolveProblem = (
  x0: Float64Array,
  options: InverseOptions,
  d: number,
  k: number,
): E.Either<ProbeError, ResolvedProblem> => {
  if (!(x0 instanceof Float64Array) || x0.length !== d) {
    return E.left(errors.shapeMismatch('x0', `a Float64Array of ${d} values (the model's input width)`, `${x0?.length} values`))
  }
  for (let i = 0; i < d; i++) if (!Number.isFinite(x0[i]!)) return fail(`x0[${i}] is ${x0[i]}; expected a finite number`, `x0[${i}]`)
  const t = options.target
  if (!Number.isInteger(t) || t < 0 || t >= k) return fail(`options.target is ${t}; expected a class index in 0..${k - 1}`, 'options.target')
  if (options.margin !== undefined && options.probability !== undefined) {
    return fail('give options.margin or options.probability, not both', 'options')
  }
  const p = options.probability
  if (p !== undefined && !(p > 0 && p < 1)) return fail(`options.probability is ${p}; expected a number in (0, 1)`, 'options.probability')
  const margin = options.margin ?? DEFAULT_MARGIN
  if (!(margin >= 0) || !Number.isFinite(margin)) return fail(`options.margin is ${margin}; expected a finite number ≥ 0`, 'options.margin')
  const lo = bounds(options.lower, d, -Infinity, 'lower')
  if (E.isLeft(lo)) return lo
  const hi = bounds(options.upper, d, Infinity, 'upper')
  if (E.isLeft(hi)) return hi
  const lower = lo.right
  const upper = hi.right
  for (let i = 0; i < d; i++) {
    if (lower[i]! > upper[i]!) return fail(`options.lower[${i}] = ${lower[i]} is above options.upper[${i}] = ${upper[i]}`, `options.lower[${i}]`)
  }
  for (const [n, i] of (options.immutable ?? []).entries()) {
    if (!Number.isInteger(i) || i < 0 || i >= d) return fail(`options.immutable[${n}] is ${i}; expected a feature index in 0..${d - 1}`, `options.immutable[${n}]`)
    if (x0[i]! < lower[i]! || x0[i]! > upper[i]!) {
      return E.left(errors.infeasible(`feature ${i} is immutable but x0[${i}] = ${x0[i]} lies outside its bounds [${lower[i]}, ${upper[i]}]`))
    }
    lower[i] = x0[i]!
    upper[i] = x0[i]!
  }
  let boxed = false
  for (let i = 0; i < d && !boxed; i++) boxed = Number.isFinite(lower[i]!) || Number.isFinite(upper[i]!)
  return E.right({
    target: t,
    mode: p === undefined ? 'margin' : 'probability',
    margin,
    probability: p ?? Number.NaN,
    x0,
    lower,
    upper,
    boxed,
  })
}

export const clip = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v)

export const distance = (a: Float64Array, b: Float64Array): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return Math.sqrt(s)
}

/** clip(v + t·dir, lower, upper) per coordinate, as a plain loop (typed-array `from` with a callback is several times slower). */
export const clipAlong = (v: Float64Array, t: number, dir: Float64Array | undefined, lower: Float64Array, upper: Float64Array): Float64Array => {
  const out = new Float64Array(v.length)
  for (let i = 0; i < v.length; i++) out[i] = clip(dir === undefined ? v[i]! : v[i]! + t * dir[i]!, lower[i]!, upper[i]!)
  return out
}

/** Logits W x + b of a softmax model, in float64. */
export const softmaxLogits = (model: SoftmaxModel, x: Float64Array): Float64Array => {
  const { rows: k, cols: d, data: w } = model.weights
  const z = new Float64Array(k)
  for (let c = 0; c < k; c++) {
    let s = model.bias[c]!
    const o = c * d
    for (let i = 0; i < d; i++) s += w[o + i]! * x[i]!
    z[c] = s
  }
  return z
}
