import { either as E, taskEither as TE } from 'fp-ts'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createRng,
  errors,
  labelOnly,
  makeContext,
  meter,
  notJsonSafe,
  reportOf,
  runProbe,
  timeout,
  type Matrix,
  type Oracle,
  type OracleInfo,
  type Prediction,
  type OracleError,
  type ProbeError,
} from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import {
  counterfactual,
  counterfactualReport,
  inverseClassificationProbe,
  inverseLogistic,
  inverseSoftmax,
  inverseSoftmaxBatch,
  kktResidual,
  prepareSoftmax,
  type CounterfactualResult,
  type InverseResult,
} from '../src/index.js'
import { solveNnqp } from '../src/nnqp.js'
import { bruteForceProjection } from './reference.js'

// Bad inputs to every public function of the package, and misbehaving oracles and callbacks. For each case:
// no throw, no rejection; every Left has a known tag; every Right passes an invariant checked here,
// independently of the solver (brute force on small problems, sampled points, an outer meter); bad options
// are refused before any query.

const KNOWN = new Set<string>([
  'InvalidInput', 'ShapeMismatch', 'InvalidOptions', 'BudgetExhausted', 'Transport', 'BadResponse', 'Timeout',
  'Aborted', 'NotConverged', 'Infeasible', 'MissingCapability', 'Unidentifiable', 'TrainingFailed', 'PluginFailed',
])
const tally = { cases: 0, rights: 0, lefts: {} as Record<string, number> }
afterAll(() => {
  console.log(`inverse-classification fuzz: ${tally.cases} cases, ${tally.rights} Right, Left by tag ${JSON.stringify(tally.lefts)}`)
})

const isEither = (u: unknown): u is E.Either<ProbeError, unknown> =>
  u !== null && typeof u === 'object' && (((u as { _tag?: unknown })._tag === 'Left' && 'left' in u) || ((u as { _tag?: unknown })._tag === 'Right' && 'right' in u))

/** Call a function that returns an Either: it must not throw, and a Left must have a known tag. */
const sync = <A>(f: () => E.Either<ProbeError, A>): E.Either<ProbeError, A> => {
  tally.cases++
  let r: unknown
  try {
    r = f()
  } catch (cause) {
    throw new Error(`threw: ${cause instanceof Error ? cause.stack : String(cause)}`)
  }
  return known(r) as E.Either<ProbeError, A>
}
/** Run a TaskEither: it must not throw (making it or running it), nor reject, and a Left has a known tag. */
const task = async <A>(f: () => TE.TaskEither<ProbeError, A>): Promise<E.Either<ProbeError, A>> => {
  tally.cases++
  let r: unknown
  try {
    r = await f()()
  } catch (cause) {
    throw new Error(`threw or rejected: ${cause instanceof Error ? cause.stack : String(cause)}`)
  }
  return known(r) as E.Either<ProbeError, A>
}
const known = (r: unknown): unknown => {
  if (!isEither(r)) throw new Error(`not an Either: ${String(r)}`)
  if (E.isLeft(r)) {
    const tag = (r.left as { _tag?: unknown })?._tag
    if (typeof tag !== 'string' || !KNOWN.has(tag)) throw new Error(`unknown Left: ${JSON.stringify(r.left)}`)
    if (typeof r.left.message !== 'string' || r.left.message === '') throw new Error(`a Left without a message: ${tag}`)
    tally.lefts[tag] = (tally.lefts[tag] ?? 0) + 1
  } else tally.rights++
  return r
}

const junk = fc.constantFrom<unknown>(
  null, undefined, Number.NaN, Infinity, -Infinity, 1.5, -1, 2 ** 53, '1', 'a', true, {}, [], [1, 2], [[1, 2], [3]],
  Float64Array.of(Number.NaN), new Float64Array(0), Int32Array.of(1), () => 1, Symbol('s'), { rows: 2, cols: 2, data: Float64Array.of(1) },
)
const badSeed = fc.constantFrom<unknown>(Number.NaN, 1.5, 2 ** 53, '1', Infinity, -Infinity, null, {}, -(2 ** 53))

// ---------------------------------------------------------------------------------------------------------
// Independent checks of a solver's Right.

const logits = (w: ArrayLike<number>, b: ArrayLike<number>, k: number, d: number, x: ArrayLike<number>): number[] =>
  Array.from({ length: k }, (_, c) => {
    let s = b[c]!
    for (let i = 0; i < d; i++) s += w[c * d + i]! * x[i]!
    return s
  })
const probOf = (z: number[], t: number): number => {
  const mx = Math.max(...z)
  return Math.exp(z[t]! - mx) / z.reduce((s, v) => s + Math.exp(v - mx), 0)
}

interface Problem {
  readonly d: number
  readonly k: number
  readonly w: number[]
  readonly b: number[]
  readonly x0: number[]
  readonly target: number
  readonly goal: { readonly margin: number } | { readonly probability: number }
  readonly lower: number[]
  readonly upper: number[]
  readonly immutable: number[]
}

/** The checks every Right of a solver must pass: finite, in the box, immutables kept, the goal met, the distance right. */
const checkAnswer = (p: Problem, r: InverseResult): void => {
  const x = Array.from(r.x)
  expect(x.length).toBe(p.d)
  expect(x.every(Number.isFinite)).toBe(true)
  x.forEach((v, i) => {
    expect(v).toBeGreaterThanOrEqual(p.lower[i]!)
    expect(v).toBeLessThanOrEqual(p.upper[i]!)
  })
  for (const i of p.immutable) expect(x[i]).toBe(p.x0[i])
  expect(Math.abs(r.distance - Math.hypot(...x.map((v, i) => v - p.x0[i]!)))).toBeLessThanOrEqual(1e-12 * Math.max(1, r.distance))
  expect(r.queries).toEqual({ predictRows: 0, gradientRows: 0, calls: 0, cacheHits: 0 })
  const z = logits(p.w, p.b, p.k, p.d, x)
  const scale = Math.max(1, ...z.map(Math.abs))
  if ('margin' in p.goal) {
    // 1e-9 of the logits' size: the solvers are exact up to rounding, which is ~1e-16 per term.
    for (let c = 0; c < p.k; c++) if (c !== p.target) expect(z[p.target]! - z[c]!).toBeGreaterThanOrEqual(p.goal.margin - 1e-9 * scale)
  } else expect(probOf(z, p.target)).toBeGreaterThanOrEqual(p.goal.probability - 1e-9)
}

/** Whether a constraint row has a nonzero weight so small its square underflows: the solvers refuse those (InvalidInput). */
const underflows = (p: Problem): boolean => {
  for (let c = 0; c < p.k; c++) {
    if (c === p.target) continue
    for (let i = 0; i < p.d; i++) {
      const v = Math.abs(p.w[p.target * p.d + i]! - p.w[c * p.d + i]!)
      if (v !== 0 && v < 1e-150) return true
    }
  }
  return false
}

/** Brute force for the margin goal (an independent solver, exponential: small problems only). */
const reference = (p: Problem & { goal: { margin: number } }) => {
  const lo = p.lower.map((v, i) => (p.immutable.includes(i) ? p.x0[i]! : v))
  const hi = p.upper.map((v, i) => (p.immutable.includes(i) ? p.x0[i]! : v))
  if (p.immutable.some((i) => p.x0[i]! < p.lower[i]! || p.x0[i]! > p.upper[i]!)) return undefined
  const others = Array.from({ length: p.k }, (_, c) => c).filter((c) => c !== p.target)
  const rows = others.map((c) => Array.from({ length: p.d }, (_, i) => p.w[p.target * p.d + i]! - p.w[c * p.d + i]!))
  const consts = others.map((c) => p.b[p.target]! - p.b[c]! - p.goal.margin)
  return bruteForceProjection(rows, consts, p.x0, lo, hi)
}

/** Random points of the box (a Gaussian cloud around x0 where a side is open): none may beat an answer or refute Infeasible. */
const sampled = (p: Problem, n: number, seed: number): number[][] => {
  const rng = createRng(seed)
  return Array.from({ length: n }, () =>
    p.x0.map((v, i) => {
      if (p.immutable.includes(i)) return v // kept, even outside the box (then nothing is feasible)
      const lo = p.lower[i]!
      const hi = p.upper[i]!
      const u = Number.isFinite(lo) && Number.isFinite(hi) ? lo + (hi - lo) * rng.next() : v + 3 * rng.normal()
      return Math.min(hi, Math.max(lo, u))
    }),
  )
}
/** Whether x is feasible: in the box, immutables at x0, and the goal met with `slack` to spare. */
const meets = (p: Problem, x: number[], slack: number): boolean => {
  if (x.some((v, i) => v < p.lower[i]! || v > p.upper[i]! || (p.immutable.includes(i) && v !== p.x0[i]))) return false
  const z = logits(p.w, p.b, p.k, p.d, x)
  return 'margin' in p.goal
    ? z.every((v, c) => c === p.target || z[p.target]! - v >= (p.goal as { margin: number }).margin + slack)
    : probOf(z, p.target) >= (p.goal as { probability: number }).probability + slack
}

const quarter = fc.integer({ min: -12, max: 12 }).map((v) => v / 4)
// Reals on a fine dyadic grid in [−4, 4]: the solvers' exactness is checked on weights of a sane dynamic
// range; weights near the float64 limits are the next property's (refused, or feasible but not certified).
const real = fc.integer({ min: -(2 ** 22), max: 2 ** 22 }).map((v) => v / 2 ** 20)
const extreme = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e-140, max: 1e-140 }), fc.constantFrom(0, 1, -1, 1e-150, 1e-160, 1e150, -1e160))
const problem = (maxD: number, maxK: number, wild = false): fc.Arbitrary<Problem> =>
  fc
    .record({ d: fc.integer({ min: 1, max: maxD }), k: fc.integer({ min: 2, max: maxK }), grid: fc.boolean() })
    .chain(({ d, k, grid }) => {
      const num = wild ? fc.oneof(real, extreme) : grid ? quarter : real
      return fc.record({
        d: fc.constant(d),
        k: fc.constant(k),
        w: fc.array(num, { minLength: d * k, maxLength: d * k }),
        b: fc.array(num, { minLength: k, maxLength: k }),
        x0: fc.array(num, { minLength: d, maxLength: d }),
        target: fc.integer({ min: 0, max: k - 1 }),
        goal: fc.oneof(
          fc.constantFrom(0, 1e-6, 0.5, 3).map((margin) => ({ margin })),
          fc.constantFrom(0.3, 0.6, 0.9, 0.99).map((probability) => ({ probability })),
        ),
        lower: fc.array(fc.oneof(fc.constant(-Infinity), fc.integer({ min: -8, max: 0 }).map((v) => v / 4)), { minLength: d, maxLength: d }),
        upper: fc.array(fc.oneof(fc.constant(Infinity), fc.integer({ min: 0, max: 8 }).map((v) => v / 4)), { minLength: d, maxLength: d }),
        immutable: fc.uniqueArray(fc.integer({ min: 0, max: d - 1 }), { maxLength: Math.max(0, d - 1) }),
      })
    })

const softmaxOf = (p: Problem) => ({ weights: { rows: p.k, cols: p.d, data: Float64Array.from(p.w) }, bias: Float64Array.from(p.b) })
const optionsOf = (p: Problem) => ({ target: p.target, ...p.goal, domain: { lower: Float64Array.from(p.lower), upper: Float64Array.from(p.upper) }, immutable: p.immutable })

describe('the exact solvers on random problems (x0 on or outside the box, more classes than features, grids of dependent weights)', () => {
  it('inverseSoftmax: every Right passes the independent checks; margin answers equal brute force; Infeasible only when brute force and sampling find nothing', () => {
    fc.assert(
      fc.property(problem(3, 4), fc.integer({ min: 0, max: 1000 }), (p, seed) => {
        const r = sync(() => inverseSoftmax(softmaxOf(p), Float64Array.from(p.x0), optionsOf(p)))
        const samples = sampled(p, 100, seed)
        if (E.isRight(r)) {
          checkAnswer(p, r.right)
          // No sampled feasible point is closer than the answer.
          for (const x of samples) if (meets(p, x, 1e-9)) expect(Math.hypot(...x.map((v, i) => v - p.x0[i]!))).toBeGreaterThanOrEqual(r.right.distance - 1e-9)
        }
        if (E.isLeft(r) && r.left._tag === 'InvalidInput') {
          // The documented refusal: a weight whose square underflows float64.
          expect(underflows(p)).toBe(true)
          return
        }
        if ('margin' in p.goal) {
          const ref = reference(p as Problem & { goal: { margin: number } })
          if (ref === undefined) expect(E.isLeft(r) && r.left._tag).toBe('Infeasible')
          else {
            expect(E.isRight(r) ? 'Right' : `${r.left._tag}: ${r.left.message}`).toBe('Right')
            if (E.isRight(r)) expect(Math.abs(r.right.distance - ref.distance)).toBeLessThanOrEqual(1e-9 * Math.max(1, ref.distance))
          }
        } else if (E.isLeft(r)) {
          // Probability with a box: Infeasible only (the projected Newton solver converges), checked by sampling.
          expect(`${r.left._tag}: ${r.left.message}`).toMatch(/^Infeasible/)
          if (r.left._tag === 'Infeasible') for (const x of samples) expect(meets(p, x, 1e-9)).toBe(false)
        }
      }),
      { seed: 42, numRuns: 200 },
    )
  })

  it('inverseLogistic: every Right passes the independent checks and equals brute force', () => {
    fc.assert(
      fc.property(problem(4, 2), (p2) => {
        // The logistic model of class 1 against class 0: w = w₁ − w₀, b = b₁ − b₀ (the two-class softmax).
        const w = Array.from({ length: p2.d }, (_, i) => p2.w[p2.d + i]! - p2.w[i]!)
        const b = p2.b[1]! - p2.b[0]!
        const r = sync(() => inverseLogistic({ weights: Float64Array.from(w), bias: b }, Float64Array.from(p2.x0), optionsOf(p2)))
        const asSoftmax: Problem = { ...p2, w: [...new Array<number>(p2.d).fill(0), ...w], b: [0, b] }
        if (E.isRight(r)) checkAnswer(asSoftmax, r.right)
        if (E.isLeft(r) && r.left._tag === 'InvalidInput') {
          expect(underflows(asSoftmax)).toBe(true)
          return
        }
        const tau = 'margin' in p2.goal ? p2.goal.margin : Math.log(p2.goal.probability / (1 - p2.goal.probability))
        const ref = reference({ ...asSoftmax, goal: { margin: tau } })
        if (ref === undefined) expect(E.isLeft(r) && r.left._tag).toBe('Infeasible')
        else {
          expect(E.isRight(r) ? 'Right' : `${r.left._tag}: ${r.left.message}`).toBe('Right')
          if (E.isRight(r)) expect(Math.abs(r.right.distance - ref.distance)).toBeLessThanOrEqual(1e-9 * Math.max(1, ref.distance))
        }
      }),
      { seed: 42, numRuns: 200 },
    )
  })
})

describe('the exact solvers near the float64 limits (weights from 1e-160 to 1e160 mixed with ordinary ones)', () => {
  it('never a NaN or infeasible Right: refused (InvalidInput), Infeasible, NotConverged, or a point that meets the goal in the box', () => {
    fc.assert(
      fc.property(problem(3, 3, true), (p) => {
        const r = sync(() => inverseSoftmax(softmaxOf(p), Float64Array.from(p.x0), optionsOf(p)))
        if (E.isLeft(r)) return
        const x = Array.from(r.right.x)
        expect([...x, r.right.distance, r.right.kktResidual, ...r.right.multipliers].every(Number.isFinite)).toBe(true)
        x.forEach((v, i) => expect(v >= p.lower[i]! && v <= p.upper[i]!).toBe(true))
        for (const i of p.immutable) expect(x[i]).toBe(p.x0[i])
        const z = logits(p.w, p.b, p.k, p.d, x)
        const scale = Math.max(1, ...z.map(Math.abs), ...p.w.map((w, j) => Math.abs(w * x[j % p.d]!)))
        if ('margin' in p.goal) for (let c = 0; c < p.k; c++) if (c !== p.target) expect(z[p.target]! - z[c]!).toBeGreaterThanOrEqual(p.goal.margin - 1e-9 * scale)
      }),
      { seed: 42, numRuns: 300 },
    )
  })
})

describe('the exact solvers on bad input from a JavaScript caller', () => {
  const model = SoftmaxRegression.random(3, 3, 1)
  const x0 = Float64Array.of(0.1, 0.2, 0.3)

  it('junk models, x0s and options: a typed Left, never a throw', () => {
    const slot = fc.constantFrom('model', 'x0', 'options', 'target', 'margin', 'probability', 'domain', 'lower-side', 'upper-side', 'immutable', 'seed', 'weights', 'bias')
    fc.assert(
      fc.property(slot, junk, (where, bad) => {
        const opts: Record<string, unknown> = { target: 1 }
        let m: unknown = model
        let x: unknown = x0
        if (where === 'model') m = bad
        else if (where === 'x0') x = bad
        else if (where === 'options') {
          for (const f of [inverseSoftmax, inverseLogistic] as const) {
            const r = sync(() => (f as (a: unknown, b: unknown, c: unknown) => E.Either<ProbeError, InverseResult>)(f === inverseSoftmax ? model : { weights: x0, bias: 0 }, x0, bad))
            expect(E.isLeft(r)).toBe(true)
          }
          return
        } else if (where === 'lower-side') opts.domain = { lower: bad, upper: 1 }
        else if (where === 'upper-side') opts.domain = { lower: -1, upper: bad }
        else if (where === 'weights') m = { weights: bad, bias: model.bias }
        else if (where === 'bias') m = { weights: model.weights, bias: bad }
        else opts[where] = bad
        const r = sync(() => inverseSoftmax(m as never, x as never, opts as never))
        const l = sync(() => inverseLogistic((where === 'model' ? bad : where === 'weights' ? { weights: bad, bias: 0 } : where === 'bias' ? { weights: x0, bias: bad } : { weights: x0, bias: 0 }) as never, x as never, opts as never))
        const b = sync(() => inverseSoftmaxBatch(m as never, (where === 'x0' ? bad : { rows: 1, cols: 3, data: x0 }) as never, opts as never))
        const pr = sync(() => prepareSoftmax(m as never))
        for (const e of [r, l]) {
          // Junk that happens to be valid (an immutable [1, 2], seed −1, margin 1.5, …) may solve: then it is checked.
          if (E.isRight(e)) expect(Array.from(e.right.x).every(Number.isFinite)).toBe(true)
        }
        if (E.isRight(b)) for (const row of b.right) known(row)
        if (where === 'model' || where === 'weights' || where === 'bias') expect(E.isLeft(pr) || pr.right.gram.full().every(Number.isFinite)).toBe(true)
      }),
      { seed: 42, numRuns: 500 },
    )
  })

  it('bad seeds are InvalidOptions at options.seed', () => {
    fc.assert(
      fc.property(badSeed, (seed) => {
        for (const r of [
          sync(() => inverseSoftmax(model, x0, { target: 1, seed: seed as number })),
          sync(() => inverseLogistic({ weights: x0, bias: 0 }, x0, { target: 1, seed: seed as number })),
        ]) expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.issues.map((i) => i.path)).toEqual(['options.seed'])
      }),
      { seed: 42, numRuns: 40 },
    )
  })

  it('values that overflow float64 (weights, x0 or bounds near 1e300) are refused, never a NaN Right', () => {
    fc.assert(
      fc.property(fc.constantFrom(1e100, 1e160, 1e200, 1e300, -1e300, Number.MAX_VALUE), fc.constantFrom('w', 'b', 'x0', 'box'), (big, where) => {
        const w = Float64Array.of(1, 2, 3, -1, 0.5, 2)
        const b = Float64Array.of(0, 1)
        if (where === 'w') w[2] = big
        if (where === 'b') b[1] = big
        const x = Float64Array.of(0.5, -0.5, 1)
        if (where === 'x0') x[0] = big
        const opts = { target: 0, ...(where === 'box' ? { domain: { lower: -Math.abs(big), upper: Math.abs(big) } } : {}) }
        for (const r of [
          sync(() => inverseSoftmax({ weights: { rows: 2, cols: 3, data: w }, bias: b }, x, opts)),
          sync(() => inverseLogistic({ weights: w.subarray(0, 3), bias: b[1]! }, x, opts)),
          sync(() => inverseSoftmax({ weights: { rows: 2, cols: 3, data: w }, bias: b }, x, { ...opts, probability: 0.9 })),
        ]) {
          if (E.isRight(r)) {
            expect([...r.right.x, r.right.distance, r.right.kktResidual].every(Number.isFinite)).toBe(true)
            // Complementarity |λ·g| is a product: its rounding scales with the multipliers as well as the distance.
            expect(r.right.kktResidual).toBeLessThanOrEqual(1e-6 * Math.max(1, r.right.distance) * Math.max(1, ...r.right.multipliers))
          }
        }
      }),
      { seed: 42, numRuns: 60 },
    )
  })

  it('kktResidual on malformed arguments or a throwing constraint is NaN, never a throw or a small number', () => {
    const good = { m: 1, value: () => 0, addRow: () => undefined, values: () => Float64Array.of(0) }
    const z = Float64Array.of(0, 0)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), junk, (slot, bad) => {
        tally.cases++
        const args: unknown[] = [good, z, z, Float64Array.of(-1, -1), Float64Array.of(1, 1), Float64Array.of(0)]
        if (slot === 6) args[0] = { ...good, values: () => { throw new Error('boom') } }
        else args[slot] = bad
        let r = 0
        expect(() => (r = (kktResidual as (...a: unknown[]) => number)(...args))).not.toThrow()
        expect(Number.isNaN(r) || (r >= 0 && Number.isFinite(r))).toBe(true)
        if (slot === 6 || bad === null || bad === undefined || typeof bad === 'string') expect(r).toBeNaN()
      }),
      { seed: 42, numRuns: 150 },
    )
  })

  it('counterfactualReport of anything that is not a result: a JSON report saying so, never a throw', () => {
    fc.assert(
      fc.property(junk, fc.constantFrom('whole', 'x', 'x0', 'queries', 'surrogate', 'seed'), (bad, where) => {
        tally.cases++
        const base = { x: Float64Array.of(1), x0: Float64Array.of(0), target: 1, distance: 1, confirmed: true, repaired: false, oracleLabel: 1, labelAtSurrogateAnswer: 1, queries: { predictRows: 1, gradientRows: 0, calls: 1, cacheHits: 0 }, seed: 0, surrogate: { x: Float64Array.of(1), distance: 1, kktResidual: 0, iterations: 1, activeClasses: Int32Array.of(0), multipliers: Float64Array.of(0.5, 0), queries: { predictRows: 0, gradientRows: 0, calls: 0, cacheHits: 0 }, seed: 0 } }
        const r = where === 'whole' ? bad : { ...base, [where]: bad }
        const report = counterfactualReport(r as CounterfactualResult)
        expect(notJsonSafe(report)).toBeUndefined()
        expect(JSON.parse(JSON.stringify(report))).toEqual(report)
        expect(E.isRight(reportOf(inverseClassificationProbe, r as CounterfactualResult))).toBe(true)
      }),
      { seed: 42, numRuns: 120 },
    )
  })
})

// ---------------------------------------------------------------------------------------------------------
// counterfactual and the probe against misbehaving oracles.

const d = 4
const box = SoftmaxRegression.random(d, 3, 5, { domain: { lower: -2, upper: 2 } })
const x0 = Float64Array.of(0.3, -0.2, 0.5, 0.1)
const info: OracleInfo = { id: 'fuzz:box', inputDim: d, numClasses: 3, output: 'label', domain: { lower: -2, upper: 2 } }
const rough = { weights: { ...box.weights, data: box.weights.data.map((v, i) => v * (1 + 0.4 * Math.sin(7 * i))) }, bias: box.bias }

type Behaviour = 'honest' | 'throws' | 'rejects' | 'hangs' | 'two labels' | 'float labels' | 'label out of range' | 'no prediction' | 'not an Either' | 'transport' | 'late failure' | 'budget 2'
const behaviours: Behaviour[] = ['honest', 'throws', 'rejects', 'hangs', 'two labels', 'float labels', 'label out of range', 'no prediction', 'not an Either', 'transport', 'late failure', 'budget 2']

const oracleThat = (b: Behaviour): Oracle => {
  const honest = labelOnly(box)
  let calls = 0
  const answer = (p: unknown): TE.TaskEither<never, Prediction> => TE.right(p as Prediction)
  const predict = (x: Matrix): TE.TaskEither<OracleError, Prediction> => {
    calls++
    switch (b) {
      case 'honest':
        return honest.predict(x) as TE.TaskEither<OracleError, Prediction>
      case 'throws':
        throw new Error('the model server fell over')
      case 'rejects':
        return () => Promise.reject(new Error('socket hang up'))
      case 'hangs':
        return () => new Promise(() => undefined)
      case 'two labels':
        return answer({ labels: Int32Array.of(0, 1) })
      case 'float labels':
        return answer({ labels: Float64Array.of(Number.NaN) })
      case 'label out of range':
        return answer({ labels: Int32Array.of(7) })
      case 'no prediction':
        return answer(undefined)
      case 'not an Either':
        return (() => Promise.resolve(42)) as never
      case 'transport':
        return TE.left(errors.transport('503', true))
      case 'late failure':
        return calls <= 2 ? (honest.predict(x) as TE.TaskEither<OracleError, Prediction>) : TE.left(errors.transport('503', true))
      case 'budget 2':
        return calls <= 2 ? (honest.predict(x) as TE.TaskEither<OracleError, Prediction>) : TE.left(errors.budgetExhausted(2, 2, 1))
    }
  }
  const o: Oracle = { info, predict }
  return b === 'hangs' ? timeout(20)(o) : o
}

/** The invariant of every counterfactual Right: counted like an outer meter, within budget, in the box, and honest about confirmation. */
const checkCounterfactual = async (r: CounterfactualResult, outer: ReturnType<typeof meter>, budget: number, honest: boolean): Promise<void> => {
  const u = outer.usage()
  expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 })
  expect(r.queries.predictRows).toBeLessThanOrEqual(budget)
  expect(Array.from(r.x).every((v) => Number.isFinite(v) && v >= -2 && v <= 2)).toBe(true)
  expect(Math.abs(r.distance - Math.hypot(...Array.from(r.x, (v, i) => v - x0[i]!)))).toBeLessThanOrEqual(1e-12 * Math.max(1, r.distance))
  if (honest) {
    const label = (await box.predict({ rows: 1, cols: d, data: r.x })()) as E.Right<Prediction>
    expect(r.oracleLabel).toBe(label.right.labels[0])
    expect(r.confirmed).toBe(label.right.labels[0] === r.target)
  }
  const report = counterfactualReport(r)
  expect(notJsonSafe(report)).toBeUndefined()
}

describe('counterfactual against misbehaving oracles and callbacks', () => {
  it('every behaviour × target × budget: no throw, no rejection, no hang; every Right within budget and counted like an outer meter', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...behaviours), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 20 }), fc.constantFrom(0, 1e-6, 0.5), async (b, target, budget, margin) => {
        const outer = meter(oracleThat(b))
        const r = await task(() => counterfactual(outer, rough, x0, { target, budget, margin }))
        if (E.isRight(r)) await checkCounterfactual(r.right, outer, budget, b === 'honest' || b === 'budget 2' || b === 'late failure')
        else if (b === 'honest') expect(r.left._tag).toBe('Infeasible')
        if (b === 'hangs' && E.isLeft(r)) expect(r.left._tag).toBe('Timeout')
      }),
      { seed: 42, numRuns: 250 },
    )
  })

  it('bad options and junk arguments: refused before any query (0 calls on a counting oracle)', async () => {
    const slots = ['oracle', 'surrogate', 'x0', 'options', 'target', 'budget', 'bisectionSteps', 'maxScale', 'seed', 'domain', 'immutable', 'margin', 'probability', 'progress', 'signal', 'log'] as const
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...slots), junk, async (slot, bad) => {
        const outer = meter(labelOnly(box))
        const opts: Record<string, unknown> = { target: 1 }
        let o: unknown = outer
        let s: unknown = rough
        let x: unknown = x0
        if (slot === 'oracle') o = bad
        else if (slot === 'surrogate') s = bad
        else if (slot === 'x0') x = bad
        else if (slot === 'options') {
          const r = await task(() => counterfactual(outer, rough, x0, bad as never))
          expect(E.isLeft(r)).toBe(true)
          expect(outer.usage().predictCalls).toBe(0)
          return
        } else opts[slot] = bad
        const r = await task(() => counterfactual(o as Oracle, s as never, x as Float64Array, opts as never))
        if (E.isLeft(r)) {
          // Every refusal of the input is made before the first query; later failures are the oracle's.
          if (['InvalidOptions', 'InvalidInput', 'ShapeMismatch'].includes(r.left._tag)) expect(outer.usage().predictCalls).toBe(0)
        } else await checkCounterfactual(r.right, outer, typeof opts.budget === 'number' ? opts.budget : 40, true)
      }),
      { seed: 42, numRuns: 400 },
    )
  })

  it('callbacks that throw: PluginFailed, never a throw; an abort from the signal: Aborted with no query after it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('progress', 'log', 'abort at once', 'abort on progress'), fc.integer({ min: 0, max: 2 }), async (what, target) => {
        const outer = meter(labelOnly(box))
        const controller = new AbortController()
        let rowsAtAbort = -1
        const opts =
          what === 'progress'
            ? { progress: () => { throw new Error('boom') } }
            : what === 'log'
              ? { log: () => { throw new Error('boom') } }
              : what === 'abort at once'
                ? (controller.abort(), { signal: controller.signal })
                : { signal: controller.signal, progress: () => { if (rowsAtAbort < 0) { rowsAtAbort = outer.usage().predictRows; controller.abort() } } }
        const r = await task(() => counterfactual(outer, rough, x0, { target, margin: 0, ...opts }))
        if (what === 'progress') expect(E.isLeft(r) && r.left._tag).toMatch(/PluginFailed|Infeasible/)
        if (what === 'log' && E.isLeft(r)) expect(r.left._tag).toMatch(/PluginFailed|Infeasible/)
        if (what.startsWith('abort')) {
          expect(E.isLeft(r) && r.left._tag).toMatch(/Aborted|Infeasible/)
          expect(outer.usage().predictRows).toBe(Math.max(0, rowsAtAbort))
        }
      }),
      { seed: 42, numRuns: 60 },
    )
  })
})

describe('the probe through runProbe', () => {
  const surrogateJson = { weights: Array.from({ length: 3 }, (_, c) => Array.from(rough.weights.data.subarray(c * d, (c + 1) * d))), bias: Array.from(rough.bias) }
  const good = { x0: Array.from(x0), surrogate: surrogateJson, target: 1 }
  const fields = ['x0', 'surrogate', 'target', 'margin', 'probability', 'domain', 'immutable', 'budget', 'bisectionSteps', 'maxScale', 'surrogate.weights', 'surrogate.bias', 'domain.lower', 'extra'] as const

  it('junk in any option (JSON-like or not): InvalidOptions with 0 calls, or a Right that passes the invariant', async () => {
    const value = fc.oneof(junk, fc.jsonValue())
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), value, async (field, bad) => {
        const outer = meter(labelOnly(box))
        const opts: Record<string, unknown> = JSON.parse(JSON.stringify(good))
        if (field === 'surrogate.weights' || field === 'surrogate.bias') (opts.surrogate as Record<string, unknown>)[field.slice(10)] = bad
        else if (field === 'domain.lower') opts.domain = { lower: bad }
        else opts[field] = bad
        const r = await task(() => runProbe(inverseClassificationProbe, outer, opts, makeContext({ seed: 3 })))
        if (E.isLeft(r) && r.left._tag === 'InvalidOptions') expect(outer.usage().predictCalls).toBe(0)
        if (E.isRight(r)) {
          await checkCounterfactual(r.right, outer, typeof opts.budget === 'number' ? opts.budget : 40, true)
          expect(r.right.seed).toBe(3)
          const report = inverseClassificationProbe.report(r.right)
          expect(JSON.parse(JSON.stringify(report))).toEqual(report)
        }
      }),
      { seed: 42, numRuns: 400 },
    )
  })

  it('misbehaving oracles under runProbe (queryTimeoutMs bounds a hang), and bad context seeds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...behaviours), fc.option(badSeed, { nil: undefined }), async (b, seed) => {
        const base = oracleThat(b === 'hangs' ? 'honest' : b)
        const hanging: Oracle = { info, predict: () => () => new Promise(() => undefined) }
        const outer = meter(b === 'hangs' ? hanging : base)
        const r = await task(() => runProbe(inverseClassificationProbe, outer, good, makeContext({ seed: (seed === undefined ? 11 : seed) as number }), { queryTimeoutMs: 25 }))
        if (seed !== undefined) {
          expect(E.isLeft(r) && r.left._tag).toBe('InvalidOptions')
          expect(outer.usage().predictCalls).toBe(0)
          return
        }
        if (b === 'hangs') expect(E.isLeft(r) && r.left._tag).toBe('Timeout')
        if (E.isRight(r)) await checkCounterfactual(r.right, outer, 40, b === 'honest' || b === 'budget 2' || b === 'late failure')
      }),
      { seed: 42, numRuns: 80 },
    )
  })
})

describe('the issue 12 reproducers (fixtures)', () => {
  it('inverseSoftmax margin mode, x0 on the lower bound (default margin): was Infeasible; x = (2/3 + ε, 0) is the answer', () => {
    const r = sync(() =>
      inverseSoftmax({ weights: { rows: 2, cols: 2, data: Float64Array.of(0, 0, 3, 0) }, bias: Float64Array.of(0, -2) }, Float64Array.of(0, 0), { target: 1, domain: { lower: 0, upper: Infinity } }),
    )
    expect(E.isRight(r)).toBe(true)
    // 3x₁ − 2 ≥ 1e-6 with x₂ = 0 (on its bound): x₁ = (2 + 1e-6) / 3, to rounding.
    if (E.isRight(r)) {
      expect(r.right.x[0]).toBeCloseTo((2 + 1e-6) / 3, 14)
      expect(r.right.x[1]).toBe(0)
    }
  })

  it('inverseSoftmax margin mode, more competitors than features, no box: was Infeasible; x = 1.125 is the answer', () => {
    const r = sync(() =>
      inverseSoftmax({ weights: { rows: 4, cols: 1, data: Float64Array.of(0.5, -0.25, 2.5, -0.25) }, bias: Float64Array.of(-0.25, -1.25, 0.5, 0.5) }, Float64Array.of(-0.75), { target: 2, margin: 3 }),
    )
    expect(E.isRight(r) && r.right.x[0]).toBeCloseTo(1.125, 12)
  })

  it('solveNnqp stopped at its iteration cap without saying so: now converged is false, and the solver turns it into NotConverged', () => {
    // min ½λᵀHλ + qᵀλ, λ ≥ 0, with all three multipliers positive at the optimum: it needs 3 entering steps.
    const h = Float64Array.of(2, 0.5, 0.1, 0.5, 2, 0.3, 0.1, 0.3, 2)
    const q = Float64Array.of(-1, -1, -1)
    const capped = solveNnqp(h, q, 3, undefined, 1)
    expect(capped.converged).toBe(false)
    const full = solveNnqp(h, q, 3)
    expect(full.converged).toBe(true)
    // Its KKT conditions hold at the full answer: Hλ + q = 0 where λ > 0 (to rounding).
    for (let j = 0; j < 3; j++) {
      const g = q[j]! + h[3 * j]! * full.lambda[0]! + h[3 * j + 1]! * full.lambda[1]! + h[3 * j + 2]! * full.lambda[2]!
      expect(full.lambda[j]!).toBeGreaterThan(0)
      expect(Math.abs(g)).toBeLessThanOrEqual(1e-14)
    }
  })

  it('the cases ran', () => {
    // 200 + 200 + 300 + 500 + 40 + 60 + 150 + 120 + 250 + 400 + 60 + 400 + 80 property runs, several calls each.
    expect(tally.cases).toBeGreaterThan(3000)
  })
})
