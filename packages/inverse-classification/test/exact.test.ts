import { either as E } from 'fp-ts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createRng, type Matrix } from '@sonde/oracle'
import { SoftmaxRegression, LogisticRegression } from '@sonde/models'
import { DEFAULT_MARGIN, inverseLogistic, inverseSoftmax, inverseSoftmaxBatch, prepareSoftmax, type InverseResult } from '../src/index.js'
import { bruteForceProjection } from './reference.js'

const unwrap = <A>(e: E.Either<{ _tag: string; message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(`${e.left._tag}: ${e.left.message}`)
  return e.right
}

const logitsOf = (w: Matrix, b: Float64Array, x: Float64Array): number[] =>
  Array.from({ length: w.rows }, (_, c) => x.reduce((s, v, i) => s + v * w.data[c * w.cols + i]!, b[c]!))

interface Case {
  seed: number
  d: number
  k: number
  boxed: boolean
  immutable: boolean
}

const makeCase = ({ seed, d, k, boxed, immutable }: Case) => {
  const rng = createRng(seed)
  const model = SoftmaxRegression.random(d, k, seed)
  const x0 = Float64Array.from({ length: d }, () => rng.next())
  const z = logitsOf(model.weights, model.bias, x0)
  // A target that x0 does not already have.
  const current = z.indexOf(Math.max(...z))
  const target = (current + 1 + rng.int(k - 1)) % k
  // Tight boxes, so that bounds bind in a good share of the cases.
  const lower = boxed ? Float64Array.from({ length: d }, () => -0.3 * rng.next()) : undefined
  const upper = boxed ? Float64Array.from({ length: d }, () => 1 + 0.3 * rng.next()) : undefined
  const imm = immutable ? [rng.int(d)] : undefined
  return { model, x0, target, lower, upper, immutable: imm }
}

describe('inverseSoftmax (margin) against brute-force enumeration of active faces', () => {
  const cases: Case[] = []
  const seen = { infeasible: 0, boxBinds: 0, severalClassesBind: 0 }
  for (let seed = 1; seed <= 40; seed++) {
    cases.push({ seed, d: 3 + (seed % 3), k: 2 + (seed % 3), boxed: seed % 2 === 0, immutable: seed % 4 === 0 })
  }
  it.each(cases)('seed $seed: D=$d K=$k box=$boxed immutable=$immutable', (cs) => {
    const { model, x0, target, lower, upper, immutable } = makeCase(cs)
    const margin = 0.3
    const r = inverseSoftmax(model, x0, { target, margin, ...(lower ? { domain: { lower, upper: upper! } } : {}), ...(immutable ? { immutable } : {}) })
    const d = cs.d
    const lo = Array.from({ length: d }, (_, i) => (immutable?.includes(i) ? x0[i]! : (lower?.[i] ?? -Infinity)))
    const hi = Array.from({ length: d }, (_, i) => (immutable?.includes(i) ? x0[i]! : (upper?.[i] ?? Infinity)))
    const w = model.weights
    const rows: number[][] = []
    const c: number[] = []
    for (let j = 0; j < cs.k; j++) {
      if (j === target) continue
      rows.push(Array.from({ length: d }, (_, i) => w.data[target * d + i]! - w.data[j * d + i]!))
      c.push(model.bias[target]! - model.bias[j]! - margin)
    }
    const ref = bruteForceProjection(rows, c, Array.from(x0), lo, hi)
    if (ref === undefined) {
      expect(E.isLeft(r) && r.left._tag).toBe('Infeasible')
      seen.infeasible++
      return
    }
    const res = unwrap(r)
    if (res.x.some((v, i) => (v === lo[i] || v === hi[i]) && !immutable?.includes(i))) seen.boxBinds++
    if (res.activeClasses.length > 1) seen.severalClassesBind++
    // Both are exact: the distances agree to rounding (1e-9 relative).
    expect(Math.abs(res.distance - ref.distance)).toBeLessThanOrEqual(1e-9 * Math.max(1, ref.distance))
    const z = logitsOf(w, model.bias, res.x)
    for (let j = 0; j < cs.k; j++) if (j !== target) expect(z[target]! - z[j]!).toBeGreaterThanOrEqual(margin - 1e-12)
    res.x.forEach((v, i) => {
      expect(v).toBeGreaterThanOrEqual(lo[i]!)
      expect(v).toBeLessThanOrEqual(hi[i]!)
    })
    immutable?.forEach((i) => expect(res.x[i]).toBe(x0[i]))
    expect(res.kktResidual).toBeLessThanOrEqual(1e-12)
  })
  it('the cases cover binding bounds, several binding classes and infeasibility', () => {
    expect(seen.boxBinds).toBeGreaterThanOrEqual(3)
    expect(seen.severalClassesBind).toBeGreaterThanOrEqual(3)
    expect(seen.infeasible).toBeGreaterThanOrEqual(1)
  })
})

describe('inverseLogistic against brute force', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i', (seed) => {
    const rng = createRng(100 + seed)
    const d = 3 + (seed % 3)
    const model = LogisticRegression.random(d, seed)
    const x0 = Float64Array.from({ length: d }, () => rng.next())
    const z0 = x0.reduce((s, v, i) => s + v * model.weights[i]!, model.bias)
    const target = z0 > 0 ? 0 : 1
    const boxed = seed % 2 === 0
    const lower = boxed ? Float64Array.from({ length: d }, () => -1 - rng.next()) : undefined
    const upper = boxed ? Float64Array.from({ length: d }, () => 2 + rng.next()) : undefined
    const immutable = seed % 3 === 0 ? [0] : undefined
    const p = 0.8
    const r = inverseLogistic(model, x0, { target, probability: p, ...(lower ? { domain: { lower, upper: upper! } } : {}), ...(immutable ? { immutable } : {}) })
    const s = target === 1 ? 1 : -1
    const tau = Math.log(p / (1 - p))
    const lo = Array.from({ length: d }, (_, i) => (immutable?.includes(i) ? x0[i]! : (lower?.[i] ?? -Infinity)))
    const hi = Array.from({ length: d }, (_, i) => (immutable?.includes(i) ? x0[i]! : (upper?.[i] ?? Infinity)))
    const ref = bruteForceProjection([Array.from(model.weights, (v) => s * v)], [s * model.bias - tau], Array.from(x0), lo, hi)
    if (ref === undefined) {
      expect(E.isLeft(r) && r.left._tag).toBe('Infeasible')
      return
    }
    const res = unwrap(r)
    expect(Math.abs(res.distance - ref.distance)).toBeLessThanOrEqual(1e-9 * Math.max(1, ref.distance))
    const z = res.x.reduce((acc, v, i) => acc + v * model.weights[i]!, model.bias)
    const prob = 1 / (1 + Math.exp(-z))
    expect(target === 1 ? prob : 1 - prob).toBeGreaterThanOrEqual(p - 1e-12)
    immutable?.forEach((i) => expect(res.x[i]).toBe(x0[i]))
    expect(res.kktResidual).toBeLessThanOrEqual(1e-12)
  })
})

describe('inverseSoftmax (probability)', () => {
  it('with two classes equals the logistic closed form on w₁ − w₀', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const model = SoftmaxRegression.random(6, 2, seed)
      const rng = createRng(seed)
      const x0 = Float64Array.from({ length: 6 }, () => rng.normal())
      const z = logitsOf(model.weights, model.bias, x0)
      const target = z[0]! > z[1]! ? 1 : 0
      const soft = unwrap(inverseSoftmax(model, x0, { target, probability: 0.9 }))
      const w = Float64Array.from({ length: 6 }, (_, i) => model.weights.data[6 + i]! - model.weights.data[i]!)
      const logi = unwrap(inverseLogistic({ weights: w, bias: model.bias[1]! - model.bias[0]! }, x0, { target, probability: 0.9 }))
      expect(Math.abs(soft.distance - logi.distance)).toBeLessThanOrEqual(1e-10 * logi.distance)
    }
  })

  it('meets P(target) ≥ p with a KKT certificate ≤ 1e-10 for K = 10', () => {
    const model = SoftmaxRegression.random(50, 10, 3)
    const rng = createRng(4)
    for (let trial = 0; trial < 5; trial++) {
      const x0 = Float64Array.from({ length: 50 }, () => rng.normal())
      const target = trial
      const r = unwrap(inverseSoftmax(model, x0, { target, probability: 0.95 }))
      const z = logitsOf(model.weights, model.bias, r.x)
      const mx = Math.max(...z)
      const prob = Math.exp(z[target]! - mx) / z.reduce((s, v) => s + Math.exp(v - mx), 0)
      expect(prob).toBeGreaterThanOrEqual(0.95 - 1e-12)
      expect(r.kktResidual).toBeLessThanOrEqual(1e-10)
    }
  })

  it('with a loose box equals the unbounded solution (two different algorithms)', () => {
    const model = SoftmaxRegression.random(30, 5, 8)
    const rng = createRng(8)
    for (let trial = 0; trial < 4; trial++) {
      const x0 = Float64Array.from({ length: 30 }, () => rng.normal())
      const free = unwrap(inverseSoftmax(model, x0, { target: trial, probability: 0.9 }))
      const boxed = unwrap(inverseSoftmax(model, x0, { target: trial, probability: 0.9, domain: { lower: -1e6, upper: 1e6 } }))
      expect(Math.abs(boxed.distance - free.distance)).toBeLessThanOrEqual(1e-9 * free.distance)
    }
  })

  it('with binding bounds and immutables: P(target) ≥ p, bounds exact, KKT ≤ 1e-10, no sampled feasible point closer', () => {
    const d = 8
    // Weights 6× the default scale and no biases, so that most targets are reachable inside the unit box.
    const model = SoftmaxRegression.fromParams(SoftmaxRegression.random(d, 4, 21).params().map((v, i) => (i < 4 * d ? 6 * v : 0)), 4)
    const rng = createRng(21)
    let binding = 0
    let solved = 0
    for (let trial = 0; trial < 12; trial++) {
      const x0 = Float64Array.from({ length: d }, () => rng.next())
      const target = trial % 4
      const r = inverseSoftmax(model, x0, { target, probability: 0.8, domain: { lower: 0, upper: 1 }, immutable: [0] })
      if (E.isLeft(r)) {
        // Never a wrong point, and never a stall: only a target out of reach.
        expect(r.left._tag).toBe('Infeasible')
        continue
      }
      const res = r.right
      const prob = (x: Float64Array) => {
        const z = logitsOf(model.weights, model.bias, x)
        const mx = Math.max(...z)
        return Math.exp(z[target]! - mx) / z.reduce((s, v) => s + Math.exp(v - mx), 0)
      }
      expect(prob(res.x)).toBeGreaterThanOrEqual(0.8 - 1e-12)
      expect(res.x[0]).toBe(x0[0])
      for (const v of res.x) expect(v >= 0 && v <= 1).toBe(true)
      expect(res.kktResidual).toBeLessThanOrEqual(1e-10)
      solved++
      if (res.x.some((v, i) => i > 0 && (v === 0 || v === 1))) binding++
      for (let s = 0; s < 400; s++) {
        const radius = res.distance * (0.3 + 0.7 * rng.next())
        const dir = Float64Array.from({ length: d }, (_, i) => (i === 0 ? 0 : rng.normal()))
        const n = Math.hypot(...dir)
        const pt = x0.map((v, i) => v + (radius * dir[i]!) / n)
        if (pt.some((v) => v < 0 || v > 1)) continue
        if (radius < res.distance - 1e-9) expect(prob(pt)).toBeLessThan(0.8)
      }
    }
    expect(solved).toBeGreaterThanOrEqual(8)
    expect(binding).toBeGreaterThanOrEqual(3)
  })

  it('MNIST-sized (D = 784, K = 10) with pixels in [0, 1]', () => {
    const model = SoftmaxRegression.random(784, 10, 5)
    const rng = createRng(5)
    const x0 = Float64Array.from({ length: 784 }, () => rng.next())
    const r = unwrap(inverseSoftmax(model, x0, { target: 7, probability: 0.9, domain: { lower: 0, upper: 1 } }))
    expect(r.kktResidual).toBeLessThanOrEqual(1e-10)
  })

  it('Infeasible when no point of the box reaches the probability', () => {
    const model = SoftmaxRegression.random(3, 3, 1)
    const r = inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 1, probability: 0.999999, domain: { lower: -0.1, upper: 0.1 } })
    expect(E.isLeft(r) && r.left._tag).toBe('Infeasible')
  })
})

describe('KKT residual on large random problems', () => {
  const sizes = [
    { d: 784, k: 10, boxed: false },
    { d: 784, k: 10, boxed: true },
    { d: 2000, k: 50, boxed: false },
    { d: 2000, k: 50, boxed: true },
  ]
  it.each(sizes)('D=$d K=$k bounds=$boxed: KKT ≤ 1e-10, margin met, bounds exact', ({ d, k, boxed }) => {
    const model = SoftmaxRegression.random(d, k, d + k)
    const prepared = unwrap(prepareSoftmax(model))
    const rng = createRng(k)
    for (let trial = 0; trial < 4; trial++) {
      const x0 = Float64Array.from({ length: d }, () => rng.next())
      const target = rng.int(k)
      const r: InverseResult = unwrap(inverseSoftmax(prepared, x0, { target, ...(boxed ? { domain: { lower: 0, upper: 1 } } : {}) }))
      expect(r.kktResidual).toBeLessThanOrEqual(1e-10)
      const z = logitsOf(model.weights, model.bias, r.x)
      for (let j = 0; j < k; j++) if (j !== target) expect(z[target]! - z[j]!).toBeGreaterThanOrEqual(DEFAULT_MARGIN - 1e-10)
      if (boxed) for (const v of r.x) expect(v >= 0 && v <= 1).toBe(true)
    }
  })
})

describe('properties', () => {
  it('no feasible point found by random sampling is closer than the answer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), (seed, boxed) => {
        const { model, x0, target, lower, upper } = makeCase({ seed, d: 4, k: 3, boxed, immutable: false })
        const r = inverseSoftmax(model, x0, { target, margin: 0.1, ...(lower ? { domain: { lower, upper: upper! } } : {}) })
        if (E.isLeft(r)) return r.left._tag === 'Infeasible'
        const rng = createRng(seed)
        for (let s = 0; s < 300; s++) {
          const radius = r.right.distance * (0.2 + 1.6 * rng.next())
          const dir = Float64Array.from({ length: 4 }, () => rng.normal())
          const n = Math.hypot(...dir)
          const pt = x0.map((v, i) => v + (radius * dir[i]!) / n)
          if (lower && pt.some((v, i) => v < lower[i]! || v > upper![i]!)) continue
          const z = logitsOf(model.weights, model.bias, pt)
          const ok = z.every((v, j) => j === target || z[target]! - v >= 0.1)
          if (ok && radius < r.right.distance - 1e-9) return false
        }
        return true
      }),
      { seed: 7, numRuns: 100 },
    )
  })

  it('an already-satisfied target returns x0 itself with zero iterations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (seed) => {
        const model = SoftmaxRegression.random(5, 4, seed)
        const rng = createRng(seed)
        const x0 = Float64Array.from({ length: 5 }, () => rng.normal())
        const z = logitsOf(model.weights, model.bias, x0)
        const current = z.indexOf(Math.max(...z))
        const r = unwrap(inverseSoftmax(model, x0, { target: current, margin: 0 }))
        const l = unwrap(inverseLogistic({ weights: Float64Array.of(1, 0, 0, 0, 0), bias: 0 }, x0, { target: x0[0]! > 0 ? 1 : 0, margin: 0 }))
        return r.iterations === 0 && r.distance === 0 && Array.from(r.x).every((v, i) => v === x0[i]) && l.iterations === 0 && l.distance === 0
      }),
      { seed: 3, numRuns: 100 },
    )
  })
})

describe('errors', () => {
  const model = SoftmaxRegression.random(3, 3, 1)
  it('Infeasible when the box or immutables make the target unreachable', () => {
    const r = inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 2, margin: 100, domain: { lower: -1, upper: 1 } })
    expect(E.isLeft(r) && r.left._tag).toBe('Infeasible')
    const l = inverseLogistic({ weights: Float64Array.of(1, 1), bias: 0 }, Float64Array.of(-1, -1), { target: 1, immutable: [0, 1] })
    expect(E.isLeft(l) && l.left._tag).toBe('Infeasible')
  })

  it('InvalidInput / ShapeMismatch for bad shapes, NaN, targets out of range', () => {
    const bad = [
      inverseSoftmax(model, Float64Array.of(0, 0), { target: 1 }),
      inverseSoftmax(model, Float64Array.of(0, Number.NaN, 0), { target: 1 }),
      inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 3 }),
      inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 1, margin: -1 }),
      inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 1, margin: 1, probability: 0.5 }),
      inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 1, domain: { lower: 1, upper: 0 } }),
      inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 1, immutable: [5] }),
      inverseSoftmax({ weights: model.weights, bias: Float64Array.of(0) }, Float64Array.of(0, 0, 0), { target: 1 }),
      inverseLogistic({ weights: Float64Array.of(1, Number.NaN), bias: 0 }, Float64Array.of(0, 0), { target: 1 }),
    ]
    for (const r of bad) {
      expect(E.isLeft(r)).toBe(true)
      if (E.isLeft(r)) expect(['InvalidInput', 'InvalidOptions', 'ShapeMismatch']).toContain(r.left._tag)
    }
  })

  it('the solvers query nothing and echo an optional seed (default 0); a bad seed is InvalidOptions', () => {
    const none = { predictRows: 0, gradientRows: 0, calls: 0, cacheHits: 0 }
    const s = unwrap(inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 1 }))
    expect([s.queries, s.seed]).toEqual([none, 0])
    const l = unwrap(inverseLogistic({ weights: Float64Array.of(1, 1), bias: 0 }, Float64Array.of(-1, -1), { target: 1, seed: -7 }))
    expect([l.queries, l.seed]).toEqual([none, -7])
    for (const seed of [Number.NaN, 1.5, 2 ** 53, Infinity]) {
      const r = inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 1, seed })
      expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.issues[0]!.path).toBe('options.seed')
      const b = inverseSoftmaxBatch(model, { rows: 1, cols: 3, data: Float64Array.of(0, 0, 0) }, { target: 1, seed })
      expect(E.isLeft(b) && b.left._tag).toBe('InvalidOptions')
    }
  })

  it('the old box options are refused with the new name, and every bad option is listed at once', () => {
    const r = inverseSoftmax(model, Float64Array.of(0, 0, 0), { target: 7, margin: -1, lower: 0, upper: 1, domain: { lower: 0, upper: Float64Array.of(1, 1) } } as never)
    expect(E.isLeft(r) && r.left._tag === 'InvalidOptions' && r.left.issues.map((i) => i.path)).toEqual([
      'options.lower',
      'options.upper',
      'options.target',
      'options.margin',
      'options.domain.upper',
    ])
  })

  it('the batch form answers every row, each on its own', () => {
    const x0s: Matrix = { rows: 3, cols: 3, data: Float64Array.of(0, 0, 0, 1, 1, 1, 0.5, 0.2, 0.1) }
    const all = unwrap(inverseSoftmaxBatch(model, x0s, { target: 0 }))
    expect(all.length).toBe(3)
    all.forEach((r, i) => {
      const single = unwrap(inverseSoftmax(model, x0s.data.slice(3 * i, 3 * i + 3), { target: 0 }))
      expect(unwrap(r).distance).toBe(single.distance)
    })
  })
})
