import { either as E, function as F } from 'fp-ts'
import { errors, noQueries, type ProbeError } from '@sonde/oracle'
import { kktResidual, type LinearConstraints } from './constraints.js'
import {
  clipAlong,
  distance,
  recordOf,
  resolveProblem,
  scaleGuard,
  type InverseOptions,
  type InverseResult,
  type LogisticModel,
  type ResolvedProblem,
  type Solution,
} from './problem.js'

const logit = (p: number): number => Math.log(p / (1 - p))

/**
 * The closest point to `x0` (Euclidean) that a logistic classifier assigns to `options.target`
 * (0 or 1) with the requested logit margin or probability, inside the bounds, immutable features
 * unchanged (inside `options.domain`). Closed form: x(μ) = clip(x0 + μ·s·w, lower, upper) with the smallest μ ≥ 0 reaching
 * the target; sw·x(μ) is piecewise linear and non-decreasing in μ, so μ is found exactly by a sweep
 * over the sorted breakpoints — O(D log D), no tolerance.
 *
 * Pure and deterministic: no oracle is queried (`queries` is `noQueries`) and no random choice is made
 * (an optional `seed` is echoed). Bad options are `InvalidOptions`, listing every bad path.
 *
 * Gotcha: with a box or immutables the target may be out of reach; you get `Infeasible`, never a
 * point that misses it.
 *
 * @example
 * import { inverseLogistic } from '@sonde/inverse-classification'
 *
 * const r = inverseLogistic({ weights: Float64Array.of(1, -2), bias: 0.5 }, Float64Array.of(0, 1), { target: 1, probability: 0.9, domain: { lower: -1, upper: 1 } })
 * // Right({ x, distance, kktResidual, iterations, activeClasses: [0], multipliers, queries: noQueries, seed: 0 })
 */
export const inverseLogistic = (model: LogisticModel, x0: Float64Array, options: InverseOptions): E.Either<ProbeError, InverseResult> => {
  if (model === null || typeof model !== 'object' || !(model.weights instanceof Float64Array)) {
    return E.left(errors.invalidInput('model is not a logistic model; expected { weights: Float64Array, bias: number }', 'model'))
  }
  const d = model.weights.length
  if (d === 0) return E.left(errors.invalidInput('model.weights is empty; a logistic model needs at least 1 feature', 'model.weights'))
  if (typeof model.bias !== 'number' || !Number.isFinite(model.bias)) return E.left(errors.invalidInput(`model.bias is ${String(model.bias)}; expected a finite number`, 'model.bias'))
  let wMax = 0
  for (let i = 0; i < d; i++) {
    const v = model.weights[i]!
    if (!Number.isFinite(v)) return E.left(errors.invalidInput(`model.weights[${i}] is ${v}; expected a finite number`, `model.weights[${i}]`))
    // Its square underflows float64: the sweep's slope could not see the feature.
    if (v !== 0 && Math.abs(v) < 1e-150) return E.left(errors.invalidInput(`model.weights[${i}] is ${v.toExponential(2)}: its square underflows float64 in the solver; rescale the model or the features`, `model.weights[${i}]`))
    wMax = Math.max(wMax, Math.abs(v))
  }
  return F.pipe(
    resolveProblem(x0, options, d, 2),
    E.chain((p) => scaleGuard(wMax, Math.abs(model.bias), d, p)),
    E.chain((p) => F.pipe(solveLogistic(model, p), E.chain((s) => recordOf(s, p, noQueries)))),
  )
}

const solveLogistic = (model: LogisticModel, p: ResolvedProblem): E.Either<ProbeError, Solution> => {
  const d = model.weights.length
  const x0 = p.x0
  const s = p.target === 1 ? 1 : -1
  // s·z ≥ τ: z = wᵀx + b is the logit of class 1 (class 0's logit is 0).
  const tau = p.mode === 'margin' ? p.margin : logit(p.probability)
  const a = new Float64Array(d)
  for (let i = 0; i < d; i++) a[i] = s * model.weights[i]!
  const c = s * model.bias - tau
  const cons: LinearConstraints = {
    m: 1,
    value: (_, x) => {
      let acc = c
      for (let i = 0; i < d; i++) acc += a[i]! * x[i]!
      return acc
    },
    addRow: (_, alpha, out) => {
      for (let i = 0; i < d; i++) out[i]! += alpha * a[i]!
    },
    values: (x) => Float64Array.of(cons.value(0, x)),
  }
  const { lower, upper } = p
  const at = (mu: number): Float64Array => clipAlong(x0, mu, a, lower, upper)
  const finish = (x: Float64Array, mu: number, iterations: number): Solution => {
    const lambda = Float64Array.of(mu)
    return {
      x,
      distance: distance(x, x0),
      kktResidual: kktResidual(cons, x, x0, lower, upper, lambda),
      iterations,
      activeClasses: mu > 0 ? Int32Array.of(1 - p.target) : new Int32Array(0),
      multipliers: p.target === 1 ? Float64Array.of(mu, 0) : Float64Array.of(0, mu),
    }
  }
  const start = at(0)
  let g = cons.value(0, start)
  if (g >= 0) return E.right(finish(start, 0, 0))

  // Each coordinate moves with slope aᵢ on the μ-interval where x0ᵢ + μaᵢ is inside its bounds.
  const events: Array<{ mu: number; i: number; enters: boolean }> = []
  const moving = new Uint8Array(d)
  let slope = 0
  for (let i = 0; i < d; i++) {
    const ai = a[i]!
    if (ai === 0) continue
    const enter = ((ai > 0 ? lower[i]! : upper[i]!) - x0[i]!) / ai
    const leave = ((ai > 0 ? upper[i]! : lower[i]!) - x0[i]!) / ai
    if (leave <= 0 || enter === leave) continue
    if (enter <= 0) {
      slope += ai * ai
      moving[i] = 1
    } else events.push({ mu: enter, i, enters: true })
    if (Number.isFinite(leave)) events.push({ mu: leave, i, enters: false })
  }
  events.sort((e1, e2) => e1.mu - e2.mu)
  // The running slope loses what cancels when a coordinate leaves (1 + 1e-18 − 1 = 0): when a leave takes it
  // below half its largest value since the last exact sum, it is summed afresh over the moving coordinates,
  // which bounds its relative error by ~2·D·ε.
  let peak = slope
  const resum = (): void => {
    slope = 0
    for (let i = 0; i < d; i++) if (moving[i] === 1) slope += a[i]! * a[i]!
    peak = slope
  }
  let mu = 0
  let k = 0
  for (;;) {
    const next = k < events.length ? events[k]!.mu : Infinity
    if (slope > 0 && g + slope * (next - mu) >= 0) {
      mu += -g / slope
      break
    }
    if (!Number.isFinite(next)) {
      return E.left(errors.infeasible(`no point within the bounds reaches class ${p.target} with ${p.mode === 'margin' ? `margin ${p.margin}` : `probability ${p.probability}`}: the best reachable logit margin is ${(g + tau).toPrecision(6)}`))
    }
    g += slope * (next - mu)
    mu = next
    let left = false
    while (k < events.length && events[k]!.mu === next) {
      const e = events[k++]!
      const sq = a[e.i]! * a[e.i]!
      moving[e.i] = e.enters ? 1 : 0
      slope += e.enters ? sq : -sq
      left ||= !e.enters
    }
    if (left && slope < peak / 2) resum()
    peak = Math.max(peak, slope)
  }
  let x = at(mu)
  // Rounding can leave gⱼ a few ulps below zero: polish μ by the local slope (at most twice).
  for (let polish = 0; polish < 2; polish++) {
    const gx = cons.value(0, x)
    if (gx >= 0 || slope <= 0) break
    mu += -gx / slope + Number.EPSILON * Math.abs(mu)
    x = at(mu)
  }
  return E.right(finish(x, mu, k + 1))
}
