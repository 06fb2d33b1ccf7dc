import { either as E } from 'fp-ts'
import { errors, validateSeed, type Domain, type Matrix, type ProbeError, type QueryUsage } from '@sonde/oracle'

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
 * target `probability` p; an optional box (`domain`) and features that may not change.
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
  /**
   * The box the answer must stay in (`@sonde/oracle`'s `Domain`): each side one number for every feature
   * or a Float64Array with one per feature; ±Infinity leaves a side open. Default: no box.
   */
  readonly domain?: Domain
  /** Indices of features that keep their value in `x0`. */
  readonly immutable?: readonly number[]
  /**
   * The solvers are deterministic: no random choice is made. A seed (a safe integer, default 0) is
   * accepted and echoed in the result for the record.
   */
  readonly seed?: number
}

/** The default logit margin: 1e-6. */
export const DEFAULT_MARGIN = 1e-6

/** What a solver finds, before the record (`queries`, `seed`) is attached. */
export interface Solution {
  /** The closest point in the target class (Euclidean), within the box, immutables unchanged. */
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

/** The answer of an exact inverse-classification solver. */
export interface InverseResult extends Solution {
  /** Always `noQueries`: the solvers read the model's parameters, they never query an oracle. */
  readonly queries: QueryUsage
  /** The seed given in the options (0 if none): no random choice is made; it is recorded. */
  readonly seed: number
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
  readonly seed: number
}

type Issue = { readonly path: string; readonly message: string }

const show = (u: unknown): string =>
  typeof u === 'string' ? JSON.stringify(u) : u === null || typeof u !== 'object' ? String(u) : Array.isArray(u) ? `an array of ${u.length}` : ArrayBuffer.isView(u) ? `a ${u.constructor.name}` : 'an object'

/**
 * Check one side of a box for `d` features: a number (not NaN) or a Float64Array of `d` values (none NaN).
 * Pushes what is wrong onto `issues`; returns the side as `d` values, or undefined when it is malformed.
 */
const boxSide = (b: unknown, d: number, path: string, issues: Issue[]): Float64Array | undefined => {
  if (typeof b === 'number') {
    if (Number.isNaN(b)) issues.push({ path, message: 'is NaN; expected a number (±Infinity for an open side)' })
    return Number.isNaN(b) ? undefined : new Float64Array(d).fill(b)
  }
  if (!(b instanceof Float64Array)) {
    issues.push({ path, message: `is ${show(b)}; expected a number or a Float64Array of ${d} values (±Infinity for an open side)` })
    return undefined
  }
  if (b.length !== d) {
    issues.push({ path, message: `has ${b.length} values; expected ${d} (one per feature)` })
    return undefined
  }
  const bad = b.findIndex((v) => Number.isNaN(v))
  if (bad >= 0) {
    issues.push({ path: `${path}[${bad}]`, message: 'is NaN; expected a number (±Infinity for an open side)' })
    return undefined
  }
  return b.slice()
}

/**
 * Check a `Domain` for `d` features and expand it to one lower and one upper bound per feature
 * (fresh arrays); undefined means no box. Pushes what is wrong onto `issues` (including lower > upper).
 */
export const checkDomain = (
  domain: unknown,
  d: number,
  path: string,
  issues: Issue[],
): { readonly lower: Float64Array; readonly upper: Float64Array } | undefined => {
  if (domain === undefined) return { lower: new Float64Array(d).fill(-Infinity), upper: new Float64Array(d).fill(Infinity) }
  if (domain === null || typeof domain !== 'object') {
    issues.push({ path, message: `is ${show(domain)}; expected { lower, upper }` })
    return undefined
  }
  const dom = domain as { readonly lower?: unknown; readonly upper?: unknown }
  const lower = boxSide(dom.lower, d, `${path}.lower`, issues)
  const upper = boxSide(dom.upper, d, `${path}.upper`, issues)
  if (lower === undefined || upper === undefined) return undefined
  for (let i = 0; i < d; i++) {
    if (lower[i]! > upper[i]!) {
      issues.push({ path: `${path}.lower`, message: `is ${lower[i]} at feature ${i}, above ${path}.upper there (${upper[i]})` })
      return undefined
    }
  }
  return { lower, upper }
}

/** The option names this package used before the probe contract; a JavaScript caller still passing one is told the new name. */
export const renamedOptions: Readonly<Record<string, string>> = {
  lower: 'domain: { lower, upper }',
  upper: 'domain: { lower, upper }',
}

/** Issues for options renamed by the probe contract (so `{ lower: 0 }` is refused, not silently ignored). */
export const renamedOptionIssues = (options: object, renamed: Readonly<Record<string, string>> = renamedOptions): Issue[] =>
  Object.keys(renamed)
    .filter((k) => (options as Record<string, unknown>)[k] !== undefined)
    .map((k) => ({ path: `options.${k}`, message: `was renamed; use options.${renamed[k]}` }))

const isOptionsObject = (u: unknown): u is InverseOptions => u !== null && typeof u === 'object' && !Array.isArray(u)

/**
 * Check `x0` and the options against a model with `d` features and `k` classes and fold the
 * immutable features into the bounds (lower = upper = x0 there). Every option problem is listed in one
 * `InvalidOptions`; a malformed `x0` is `ShapeMismatch` / `InvalidInput`.
 */
export const resolveProblem = (x0: Float64Array, options: InverseOptions, d: number, k: number): E.Either<ProbeError, ResolvedProblem> => {
  if (!(x0 instanceof Float64Array) || x0.length !== d) {
    return E.left(errors.shapeMismatch('x0', `a Float64Array of ${d} values (the model's input width)`, x0 instanceof Float64Array ? `${x0.length} values` : show(x0)))
  }
  for (let i = 0; i < d; i++) if (!Number.isFinite(x0[i]!)) return E.left(errors.invalidInput(`x0[${i}] is ${x0[i]}; expected a finite number`, `x0[${i}]`))
  if (!isOptionsObject(options)) return E.left(errors.invalidOptions([{ path: 'options', message: `is ${show(options)}; expected an object with at least { target }` }]))
  const issues: Issue[] = renamedOptionIssues(options)
  const t = options.target
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= k) issues.push({ path: 'options.target', message: `is ${show(t)}; expected a class index in 0..${k - 1}` })
  if (options.margin !== undefined && options.probability !== undefined) issues.push({ path: 'options', message: 'give options.margin or options.probability, not both' })
  const p = options.probability
  if (p !== undefined && !(typeof p === 'number' && p > 0 && p < 1)) issues.push({ path: 'options.probability', message: `is ${show(p)}; expected a number in (0, 1)` })
  const margin = options.margin ?? DEFAULT_MARGIN
  if (!(typeof margin === 'number' && margin >= 0 && Number.isFinite(margin))) issues.push({ path: 'options.margin', message: `is ${show(margin)}; expected a finite number ≥ 0` })
  const seed = validateSeed(options.seed === undefined ? 0 : options.seed, 'options.seed')
  if (E.isLeft(seed)) issues.push(...seed.left.issues)
  const box = checkDomain(options.domain, d, 'options.domain', issues)
  const immutable: unknown = options.immutable ?? []
  if (!Array.isArray(immutable)) issues.push({ path: 'options.immutable', message: `is ${show(immutable)}; expected an array of feature indices` })
  else {
    immutable.forEach((i: unknown, n) => {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= d) issues.push({ path: `options.immutable[${n}]`, message: `is ${show(i)}; expected a feature index in 0..${d - 1}` })
    })
  }
  if (issues.length > 0 || box === undefined || E.isLeft(seed)) return E.left(errors.invalidOptions(issues))
  const { lower, upper } = box
  for (const i of immutable as readonly number[]) {
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
    seed: seed.right,
  })
}

/**
 * Refuse problems whose size overflows float64 inside the solvers (a logit or a product WWᵀ beyond
 * ~1e150 loses every digit long before it becomes Infinity): InvalidInput naming the culprit.
 */
export const scaleGuard = (weightScale: number, biasScale: number, d: number, p: ResolvedProblem): E.Either<ProbeError, ResolvedProblem> => {
  let xs = 0
  for (let i = 0; i < d; i++) {
    xs = Math.max(xs, Math.abs(p.x0[i]!))
    if (Number.isFinite(p.lower[i]!)) xs = Math.max(xs, Math.abs(p.lower[i]!))
    if (Number.isFinite(p.upper[i]!)) xs = Math.max(xs, Math.abs(p.upper[i]!))
  }
  const limit = 1e150
  if (!(biasScale <= limit) || !(weightScale * weightScale * Math.max(1, d) <= limit * limit) || !(weightScale * xs * Math.max(1, d) <= limit)) {
    return E.left(
      errors.invalidInput(
        `the problem is too large for float64: weights up to ${weightScale.toPrecision(3)}, biases up to ${biasScale.toPrecision(3)} and x0 / bounds up to ${xs.toPrecision(3)} over ${d} features overflow the solver; rescale the features`,
        'x0',
      ),
    )
  }
  return E.right(p)
}

/** A solution whose every number is finite, with the record attached; else InvalidInput (the float64 range was left). */
export const recordOf = (s: Solution, p: ResolvedProblem, queries: QueryUsage): E.Either<ProbeError, InverseResult> => {
  const finite = (xs: ArrayLike<number>): boolean => {
    for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i]!)) return false
    return true
  }
  if (!(finite(s.x) && finite(s.multipliers) && Number.isFinite(s.distance) && Number.isFinite(s.kktResidual))) {
    return E.left(errors.invalidInput('the solver left the float64 range on this problem (a coordinate, multiplier or the distance is not finite); rescale the features', 'x0'))
  }
  return E.right({ ...s, queries, seed: p.seed })
}

/** `v` clamped to [lo, hi]. */
export const clip = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v)

/** Euclidean distance ‖a − b‖₂ of two equally long vectors. */
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

/**
 * Σᵢ a[ao + i]·b[bo + i] over n terms, with four partial sums (about 2× faster in V8 than one chain of adds).
 * The same arrays in either order give the same bits: dot(w, a, w, b) = dot(w, b, w, a).
 */
export const dot = (a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number => {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let i = 0
  for (; i + 3 < n; i += 4) {
    s0 += a[ao + i]! * b[bo + i]!
    s1 += a[ao + i + 1]! * b[bo + i + 1]!
    s2 += a[ao + i + 2]! * b[bo + i + 2]!
    s3 += a[ao + i + 3]! * b[bo + i + 3]!
  }
  for (; i < n; i++) s0 += a[ao + i]! * b[bo + i]!
  return s0 + s1 + (s2 + s3)
}

/**
 * Logits W x + b of a softmax model, in float64, summed as the solvers sum them (four partial sums per row):
 * one pass over W.
 *
 * @example
 * import { SoftmaxRegression } from '@sonde/models'
 * import { softmaxLogits } from '@sonde/inverse-classification'
 *
 * const z = softmaxLogits(SoftmaxRegression.random(4, 3, 1), Float64Array.of(1, 0, 0, 0)) // 3 logits
 */
export const softmaxLogits = (model: SoftmaxModel, x: Float64Array): Float64Array => {
  const { rows: k, cols: d, data: w } = model.weights
  const z = new Float64Array(k)
  for (let c = 0; c < k; c++) z[c] = model.bias[c]! + dot(w, c * d, x, 0, d)
  return z
}
