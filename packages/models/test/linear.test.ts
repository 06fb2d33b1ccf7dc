import { either as E } from 'fp-ts'
import { Matrix as MlMatrix, solve } from 'ml-matrix'
import { describe, expect, it } from 'vitest'
import { describeOracleContract } from '@sonde/oracle/testing'
import { row, type Matrix } from '@sonde/oracle'
import { LinearClassifier, LogisticRegression, SoftmaxRegression, type TwiceDifferentiable } from '../src/index.js'
import { blobs } from './data.js'

const unwrap = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

describeOracleContract('SoftmaxRegression (probabilities)', () => SoftmaxRegression.random(7, 4, 1))
describeOracleContract('SoftmaxRegression (logits, domain)', () => SoftmaxRegression.random(5, 3, 2, { output: 'logits', domain: { lower: -4, upper: 4 } }))
describeOracleContract('SoftmaxRegression (labels)', () => SoftmaxRegression.random(5, 3, 3, { output: 'label' }))
describeOracleContract('LogisticRegression (probabilities)', () => LogisticRegression.random(6, 4))
describeOracleContract('LogisticRegression (logits)', () => LogisticRegression.random(6, 5, { output: 'logits' }))

const norm = (v: Float64Array): number => Math.sqrt(v.reduce((a, b) => a + b * b, 0))

// A naive objective written independently of glm.ts: plain loops over examples and classes.
const naiveSoftmaxObjective = (theta: Float64Array, x: Matrix, y: Int32Array, k: number, l2: number): number => {
  const d = x.cols
  let total = 0
  for (let i = 0; i < x.rows; i++) {
    const z = Array.from({ length: k }, (_, c) => {
      let s = theta[k * d + c]!
      for (let j = 0; j < d; j++) s += theta[c * d + j]! * x.data[i * d + j]!
      return s
    })
    total += Math.log(z.reduce((a, v) => a + Math.exp(v), 0)) - z[y[i]!]!
  }
  return total / x.rows + 0.5 * l2 * theta.reduce((a, t) => a + t * t, 0)
}

const cases: ReadonlyArray<{ name: string; fit: (x: Matrix, y: Int32Array) => TwiceDifferentiable; k: number }> = [
  { name: 'softmax', k: 3, fit: (x, y) => unwrap(SoftmaxRegression.fit(x, y, { numClasses: 3, l2: 0.05 })).model },
  { name: 'logistic', k: 2, fit: (x, y) => unwrap(LogisticRegression.fit(x, y, { l2: 0.05 })).model },
]

describe.each(cases)('$name regression, white box', ({ fit, k }) => {
  const { x, y } = blobs(240, 5, k, 7)
  const model = fit(x, y)

  it('fits to a gradient norm ≤ 1e-10', () => {
    expect(norm(model.objectiveGradient(x, y))).toBeLessThanOrEqual(1e-10)
  })

  it('analytic Hessian matches central differences of the analytic gradient', () => {
    const h = model.hessian(x, y)
    const theta = model.params()
    const step = 1e-5
    let worst = 0
    for (let q = 0; q < theta.length; q++) {
      const plus = theta.slice()
      const minus = theta.slice()
      plus[q]! += step
      minus[q]! -= step
      const gp = (k === 2 ? LogisticRegression.fromParams(plus, { l2: model.l2 }) : SoftmaxRegression.fromParams(plus, k, { l2: model.l2 })).objectiveGradient(x, y)
      const gm = (k === 2 ? LogisticRegression.fromParams(minus, { l2: model.l2 }) : SoftmaxRegression.fromParams(minus, k, { l2: model.l2 })).objectiveGradient(x, y)
      for (let r = 0; r < theta.length; r++) {
        const fd = (gp[r]! - gm[r]!) / (2 * step)
        worst = Math.max(worst, Math.abs(fd - h.data[r * theta.length + q]!))
      }
    }
    // Central differences: O(step²) ≈ 1e-10 truncation plus ~1e-16/step rounding.
    expect(worst).toBeLessThanOrEqual(1e-8)
  })

  it('Hessian-vector products equal the dense Hessian times v', () => {
    const h = model.hessian(x, y)
    const p = model.numParams
    const v = Float64Array.from({ length: p }, (_, i) => Math.sin(3 * i + 1))
    const hv = model.hessianVectorProduct(x, y, v)
    for (let r = 0; r < p; r++) {
      let s = 0
      for (let c = 0; c < p; c++) s += h.data[r * p + c]! * v[c]!
      expect(Math.abs(hv[r]! - s)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(s)))
    }
  })

  it('per-example gradients average (plus λθ) to the objective gradient and match differences of each loss', () => {
    const g = model.perExampleGradients(x, y)
    const theta = model.params()
    const total = model.objectiveGradient(x, y)
    for (let q = 0; q < model.numParams; q++) {
      let s = 0
      for (let i = 0; i < x.rows; i++) s += g.data[i * g.cols + q]!
      expect(Math.abs(s / x.rows + model.l2 * theta[q]! - total[q]!)).toBeLessThanOrEqual(1e-13)
    }
    // Example 5, parameter 2: central difference of its loss.
    const step = 1e-6
    const one: Matrix = { rows: 1, cols: x.cols, data: row(x, 5).slice() }
    const y5 = y.subarray(5, 6)
    const at = (t: Float64Array) => (k === 2 ? LogisticRegression.fromParams(t) : SoftmaxRegression.fromParams(t, k)).losses(one, y5)[0]!
    const plus = theta.slice()
    const minus = theta.slice()
    plus[2]! += step
    minus[2]! -= step
    expect(Math.abs((at(plus) - at(minus)) / (2 * step) - g.data[5 * g.cols + 2]!)).toBeLessThanOrEqual(1e-8)
  })

  it('the Hessian operator, gradient products and mixed gradient agree with their definitions', () => {
    const p = model.numParams
    const v = Float64Array.from({ length: p }, (_, i) => Math.cos(2 * i + 0.5))
    const hv = model.hessianVectorProduct(x, y, v)
    const op = model.hessianOperator(x, y)(v)
    for (let q = 0; q < p; q++) expect(Math.abs(op[q]! - hv[q]!)).toBeLessThanOrEqual(1e-14 * (1 + Math.abs(hv[q]!)))
    // gradientProducts = V · per-example gradientsᵀ
    const vm: Matrix = { rows: 2, cols: p, data: Float64Array.from({ length: 2 * p }, (_, i) => Math.sin(i + 0.3)) }
    const gp = model.gradientProducts(x, y, vm)
    const g = model.perExampleGradients(x, y)
    for (let a = 0; a < 2; a++) {
      for (let i = 0; i < x.rows; i += 17) {
        let s = 0
        for (let q = 0; q < p; q++) s += vm.data[a * p + q]! * g.data[i * p + q]!
        expect(Math.abs(gp.data[a * x.rows + i]! - s)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(s)))
      }
    }
    // mixedGradientProduct: central differences in x of vᵀ ∇_θ ℓ(x, y)
    const mixed = model.mixedGradientProduct(x, y, v)
    const i = 11
    const at = (xi: Float64Array): number => {
      const one: Matrix = { rows: 1, cols: x.cols, data: xi }
      const gi = model.perExampleGradients(one, y.subarray(i, i + 1))
      let s = 0
      for (let q = 0; q < p; q++) s += v[q]! * gi.data[q]!
      return s
    }
    for (let j = 0; j < x.cols; j++) {
      const plus = row(x, i).slice()
      const minus = row(x, i).slice()
      plus[j]! += 1e-6
      minus[j]! -= 1e-6
      const fd = (at(plus) - at(minus)) / 2e-6
      expect(Math.abs(fd - mixed.data[i * x.cols + j]!)).toBeLessThanOrEqual(1e-7 * (1 + Math.abs(fd)))
    }
  })

  it('refit without one point, warm-started, converges in few Newton steps', () => {
    const keep = Int32Array.from({ length: x.rows - 1 }, (_, i) => (i < 10 ? i : i + 1))
    const x2: Matrix = { rows: keep.length, cols: x.cols, data: new Float64Array(keep.length * x.cols) }
    keep.forEach((r, i) => x2.data.set(row(x, r), i * x.cols))
    const y2 = Int32Array.from(keep, (r) => y[r]!)
    const refit = unwrap((model as LinearClassifier).refit(x2, y2))
    expect(norm(refit.model.objectiveGradient(x2, y2))).toBeLessThanOrEqual(1e-10)
    expect(refit.report.iterations).toBeLessThanOrEqual(6)
  })
})

describe('sparse inputs', () => {
  it('the dense Hessian on mostly-zero rows equals a naive n·p² accumulation', () => {
    const { x, y } = blobs(60, 6, 3, 3)
    for (let q = 0; q < x.data.length; q++) if (q % 3 !== 0) x.data[q] = 0
    const model = unwrap(SoftmaxRegression.fit(x, y, { numClasses: 3, l2: 0.1 })).model
    const h = model.hessian(x, y)
    const p = model.numParams
    const d = x.cols
    const naive = new Float64Array(p * p)
    const probs = model.logits(x)
    for (let i = 0; i < x.rows; i++) {
      const z = Array.from({ length: 3 }, (_, c) => probs.data[i * 3 + c]!)
      const mx = Math.max(...z)
      const e = z.map((t) => Math.exp(t - mx))
      const tot = e.reduce((a, b) => a + b, 0)
      const mu = e.map((t) => t / tot)
      const feat = (j: number) => (j < d ? x.data[i * d + j]! : 1)
      const at = (c: number, j: number) => (j < d ? c * d + j : 3 * d + c)
      for (let c1 = 0; c1 < 3; c1++)
        for (let c2 = 0; c2 < 3; c2++)
          for (let j1 = 0; j1 <= d; j1++)
            for (let j2 = 0; j2 <= d; j2++) naive[at(c1, j1) * p + at(c2, j2)]! += (((c1 === c2 ? mu[c1]! : 0) - mu[c1]! * mu[c2]!) * feat(j1) * feat(j2)) / x.rows
    }
    for (let q = 0; q < p; q++) naive[q * p + q]! += 0.1
    for (let q = 0; q < p * p; q++) expect(Math.abs(h.data[q]! - naive[q]!)).toBeLessThanOrEqual(1e-14)
  })
})

describe('softmax regression against an independent solve', () => {
  it('matches a dense Newton method on a naive objective with finite-difference derivatives (ml-matrix)', () => {
    const k = 3
    const { x, y } = blobs(60, 2, k, 3)
    const l2 = 0.1
    const ours = unwrap(SoftmaxRegression.fit(x, y, { numClasses: k, l2 })).model.params()
    const p = ours.length
    const f = (t: Float64Array) => naiveSoftmaxObjective(t, x, y, k, l2)
    let theta = new Float64Array(p)
    const h = 1e-4
    for (let it = 0; it < 12; it++) {
      const grad = new Float64Array(p)
      const hess = new MlMatrix(p, p)
      const f0 = f(theta)
      for (let a = 0; a < p; a++) {
        const ea = theta.slice()
        ea[a]! += h
        const eb = theta.slice()
        eb[a]! -= h
        grad[a] = (f(ea) - f(eb)) / (2 * h)
        hess.set(a, a, (f(ea) - 2 * f0 + f(eb)) / (h * h))
        for (let b = 0; b < a; b++) {
          const pp = theta.slice(); pp[a]! += h; pp[b]! += h
          const pm = theta.slice(); pm[a]! += h; pm[b]! -= h
          const mp = theta.slice(); mp[a]! -= h; mp[b]! += h
          const mm = theta.slice(); mm[a]! -= h; mm[b]! -= h
          const v = (f(pp) - f(pm) - f(mp) + f(mm)) / (4 * h * h)
          hess.set(a, b, v)
          hess.set(b, a, v)
        }
      }
      const step = solve(hess, MlMatrix.columnVector(Array.from(grad)))
      theta = theta.map((t, i) => t - step.get(i, 0))
    }
    // Finite-difference derivatives limit the reference to ~1e-6.
    for (let q = 0; q < p; q++) expect(Math.abs(theta[q]! - ours[q]!)).toBeLessThanOrEqual(1e-5)
  })
})

describe('fit errors', () => {
  it('reports NotConverged, not a wrong model, when the tolerance is not met', () => {
    // Separable data and no L2: the MLE is at infinity.
    const x: Matrix = { rows: 4, cols: 1, data: Float64Array.of(-2, -1, 1, 2) }
    const y = Int32Array.of(0, 0, 1, 1)
    const r = LogisticRegression.fit(x, y, { l2: 0, maxIter: 15 })
    expect(E.isLeft(r) && r.left._tag).toBe('NotConverged')
  })

  it('refuses bad training data with the place named', () => {
    const x: Matrix = { rows: 2, cols: 2, data: Float64Array.of(0, 1, Number.NaN, 1) }
    const r = SoftmaxRegression.fit(x, Int32Array.of(0, 1))
    expect(E.isLeft(r) && r.left.message).toContain('x[1][0]')
    const r2 = LogisticRegression.fit({ rows: 2, cols: 1, data: Float64Array.of(0, 1) }, Int32Array.of(0, 2))
    expect(E.isLeft(r2) && r2.left.message).toContain('y[1] is 2')
    const r3 = SoftmaxRegression.fit({ rows: 2, cols: 1, data: Float64Array.of(0, 1) }, Int32Array.of(0))
    expect(E.isLeft(r3) && r3.left._tag).toBe('ShapeMismatch')
  })
})

// Inputs that once broke us (a fuzz run against the built packages).
describe('fixtures: linear models', () => {
  it('a finite input large enough to overflow the logits is InvalidInput naming the row, never NaN probabilities', async () => {
    const model = new LogisticRegression({ weights: Float64Array.of(2, 2), bias: 0 })
    const r = await model.predict({ rows: 2, cols: 2, data: Float64Array.of(0.5, 0.5, 1e308, 1e308) })()
    expect(r._tag === 'Left' && r.left._tag === 'InvalidInput' && r.left.path).toBe('x[1]')
    const fine = await model.predict({ rows: 1, cols: 2, data: Float64Array.of(1e3, -1e3) })()
    expect(fine._tag === 'Right' && fine.right.scores!.data.every(Number.isFinite)).toBe(true)
  })
})
