import { either as E } from 'fp-ts'
import { createRng } from '@sonde/oracle'
import { inverseSoftmax, type InverseResult } from '../src/index.js'

/** A random softmax problem with a target probability and a box (some sides open), in plain arrays. */
export interface BoxedProbabilityProblem {
  readonly seed: number
  readonly d: number
  readonly k: number
  readonly w: number[]
  readonly b: number[]
  readonly x0: number[]
  readonly target: number
  readonly probability: number
  readonly lower: number[]
  readonly upper: number[]
  readonly immutable: number[]
}

/**
 * Problem `seed`: D ∈ 2..31, K ∈ 2..10, weights N(0, s²) with s ∈ {0.3, 1, 3, 10}, biases N(0, 1), x0 uniform in
 * [0, 1]^D (a few coordinates outside the box), lower ∈ [−1, 0] and upper ∈ [1, 2] with a fifth of the sides
 * open, p ∈ {0.5, 0.9, 0.99, 0.999}, sometimes immutable features.
 */
export const boxedProbabilityProblem = (seed: number): BoxedProbabilityProblem => {
  const rng = createRng(seed)
  const d = 2 + rng.int(30)
  const k = 2 + rng.int(9)
  const s = [0.3, 1, 3, 10][rng.int(4)]!
  const w = Array.from({ length: k * d }, () => s * rng.normal())
  const b = Array.from({ length: k }, () => rng.normal())
  const x0 = Array.from({ length: d }, () => (rng.next() < 0.1 ? 3 * rng.normal() : rng.next()))
  const lower = Array.from({ length: d }, () => (rng.next() < 0.2 ? -Infinity : -rng.next()))
  const upper = Array.from({ length: d }, () => (rng.next() < 0.2 ? Infinity : 1 + rng.next()))
  const immutable = rng.next() < 0.2 ? [rng.int(d)].filter((i) => x0[i]! >= lower[i]! && x0[i]! <= upper[i]!) : []
  return { seed, d, k, w, b, x0, target: rng.int(k), probability: [0.5, 0.9, 0.99, 0.999][rng.int(4)]!, lower, upper, immutable }
}

const logitsOf = (p: BoxedProbabilityProblem, x: readonly number[]): number[] =>
  Array.from({ length: p.k }, (_, a) => {
    let s = p.b[a]!
    for (let i = 0; i < p.d; i++) s += p.w[a * p.d + i]! * x[i]!
    return s
  })
const softmaxOf = (z: readonly number[]): number[] => {
  const mx = Math.max(...z)
  const e = z.map((v) => Math.exp(v - mx))
  const s = e.reduce((a, v) => a + v, 0)
  return e.map((v) => v / s)
}
/** −log P(t | z). */
const nll = (z: readonly number[], t: number): number => {
  const mx = Math.max(...z)
  return mx + Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0)) - z[t]!
}
const lowerOf = (p: BoxedProbabilityProblem, i: number): number => (p.immutable.includes(i) ? p.x0[i]! : p.lower[i]!)
const upperOf = (p: BoxedProbabilityProblem, i: number): number => (p.immutable.includes(i) ? p.x0[i]! : p.upper[i]!)
const clipTo = (p: BoxedProbabilityProblem, v: number, i: number): number => Math.min(upperOf(p, i), Math.max(lowerOf(p, i), v))

/**
 * The KKT conditions of min ½‖x − x0‖² s.t. −log P(t | x) ≤ −log p, x in the box, checked from scratch at the
 * solver's x with μ recovered from its multipliers (μ·πₐ for a ≠ t). The problem is convex and its objective
 * strongly convex, so these conditions hold only at the one optimum. Returns what fails, or undefined.
 */
export const kktViolation = (p: BoxedProbabilityProblem, r: InverseResult): string | undefined => {
  const x = Array.from(r.x)
  for (let i = 0; i < p.d; i++) if (!(x[i]! >= lowerOf(p, i) && x[i]! <= upperOf(p, i))) return `x[${i}] = ${x[i]} outside [${lowerOf(p, i)}, ${upperOf(p, i)}]`
  const z = logitsOf(p, x)
  const pi = softmaxOf(z)
  const c = -Math.log(p.probability)
  const h = nll(z, p.target)
  if (!(h <= c + 1e-12 * (1 + c))) return `P(target) = ${Math.exp(-h)} < ${p.probability}`
  let others = 0
  let mults = 0
  for (let a = 0; a < p.k; a++) {
    if (a === p.target) continue
    others += pi[a]!
    mults += r.multipliers[a]!
  }
  const mu = others > 0 ? mults / others : 0
  if (!(mu >= 0)) return `μ = ${mu} < 0`
  const zScale = Math.max(1, ...z.map(Math.abs))
  if (mu > 0 && !(Math.abs(h - c) <= 1e-9 * (1 + c) * zScale)) return `μ = ${mu} > 0 but the constraint is slack by ${c - h}`
  const gamma = pi.map((v, a) => (a === p.target ? -others : v))
  for (let i = 0; i < p.d; i++) {
    let y = p.x0[i]!
    let terms = Math.abs(p.x0[i]!)
    for (let a = 0; a < p.k; a++) {
      y -= mu * gamma[a]! * p.w[a * p.d + i]!
      terms += Math.abs(mu * gamma[a]! * p.w[a * p.d + i]!)
    }
    const err = Math.abs(x[i]! - clipTo(p, y, i))
    if (!(err <= 1e-9 * Math.max(1, terms))) return `stationarity at feature ${i}: |x − clip(x0 − μWᵀγ)| = ${err}`
  }
  return undefined
}

/**
 * The largest P(target) found in the box by projected gradient ascent on log P(t | x) (concave) with Armijo
 * backtracking, from clip(x0) and from the box's centre: a feasible point when it beats p, else a lower bound
 * on max P. Independent of the solver (first-order, no multiplier, no Newton step).
 */
export const bestProbabilityInBox = (p: BoxedProbabilityProblem, iterations = 3000): { probability: number; x: number[] } => {
  const starts = [
    p.x0.map((v, i) => clipTo(p, v, i)),
    p.x0.map((v, i) => {
      const lo = lowerOf(p, i)
      const hi = upperOf(p, i)
      return Number.isFinite(lo) && Number.isFinite(hi) ? (lo + hi) / 2 : clipTo(p, v, i)
    }),
  ]
  let best = { probability: 0, x: starts[0]! }
  for (const start of starts) {
    let x = start
    let f = -nll(logitsOf(p, x), p.target)
    let step = 1
    for (let it = 0; it < iterations; it++) {
      const pi = softmaxOf(logitsOf(p, x))
      const g = Array.from({ length: p.d }, (_, i) => {
        let s = 0
        for (let a = 0; a < p.k; a++) s += ((a === p.target ? 1 : 0) - pi[a]!) * p.w[a * p.d + i]!
        return s
      })
      let moved = false
      for (let ls = 0; ls < 60; ls++) {
        const xn = x.map((v, i) => clipTo(p, v + step * g[i]!, i))
        const fn = -nll(logitsOf(p, xn), p.target)
        const lin = xn.reduce((s, v, i) => s + g[i]! * (v - x[i]!), 0)
        if (fn >= f + 1e-4 * lin && lin > 0) {
          x = xn
          f = fn
          step *= 2
          moved = true
          break
        }
        step /= 2
      }
      if (!moved || Math.exp(f) >= p.probability * (1 + 1e-6)) break
    }
    if (Math.exp(f) > best.probability) best = { probability: Math.exp(f), x }
  }
  return best
}

/** What one problem gave: the solver's tag, and a failure (a reason) when an independent check disagrees. */
export interface BoxedProbabilityOutcome {
  readonly seed: number
  readonly tag: string
  readonly failure?: string
}

/**
 * Solve problem `seed` and check it independently: a Right must satisfy {@link kktViolation}'s conditions; an
 * Infeasible must not be refuted by {@link bestProbabilityInBox} (a point with P ≥ p·(1 + 1e-9)); any other
 * Left is a failure when the reference finds the problem feasible.
 */
export const checkBoxedProbability = (seed: number): BoxedProbabilityOutcome => {
  const p = boxedProbabilityProblem(seed)
  const r = inverseSoftmax({ weights: { rows: p.k, cols: p.d, data: Float64Array.from(p.w) }, bias: Float64Array.from(p.b) }, Float64Array.from(p.x0), {
    target: p.target,
    probability: p.probability,
    domain: { lower: Float64Array.from(p.lower), upper: Float64Array.from(p.upper) },
    immutable: p.immutable,
  })
  if (E.isRight(r)) {
    const v = kktViolation(p, r.right)
    return v === undefined ? { seed, tag: 'Right' } : { seed, tag: 'Right', failure: v }
  }
  const best = bestProbabilityInBox(p)
  if (best.probability >= p.probability * (1 + 1e-9)) return { seed, tag: r.left._tag, failure: `${r.left._tag} (${r.left.message}) but P = ${best.probability} ≥ ${p.probability} is reachable` }
  return r.left._tag === 'Infeasible' ? { seed, tag: 'Infeasible' } : { seed, tag: r.left._tag, failure: `${r.left._tag}: ${r.left.message}` }
}
