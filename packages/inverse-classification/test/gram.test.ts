import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { createRng } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { inverseSoftmax, prepareSoftmax, type PreparedSoftmax } from '../src/index.js'
import { resolveProblem } from '../src/problem.js'
import { solveMargin, solveMarginRestricted } from '../src/softmax.js'

const unwrap = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

describe('M = WWᵀ on demand (GramCache)', () => {
  it('rows and the whole matrix equal the dot products summed plainly (1e-13 relative); full() is symmetric and counts every row', () => {
    const model = SoftmaxRegression.random(37, 9, 5)
    const { rows: k, cols: d, data: w } = model.weights
    const prep = unwrap(prepareSoftmax(model))
    expect(prep.gram.rowsComputed()).toBe(0)
    const plain = (a: number, b: number): number => {
      let s = 0
      for (let i = 0; i < d; i++) s += w[a * d + i]! * w[b * d + i]!
      return s
    }
    const r3 = prep.gram.row(3)
    for (let c = 0; c < k; c++) expect(Math.abs(r3[c]! - plain(3, c))).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(plain(3, c))))
    expect(prep.gram.rowsComputed()).toBe(1)
    expect(prep.gram.entry(5, 3)).toBe(r3[5]) // the same products in the same order: symmetric to the bit
    const full = prep.gram.full()
    expect(prep.gram.rowsComputed()).toBe(k)
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        expect(full[a * k + b]).toBe(full[b * k + a])
        expect(Math.abs(full[a * k + b]! - plain(a, b))).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(plain(a, b))))
      }
    }
    expect(Array.from(prep.gram.row(3))).toEqual(Array.from(r3))
    // Row and W·x in one pass: the same bits as the row alone and as the plain products.
    const fresh = unwrap(prepareSoftmax({ weights: model.weights, bias: model.bias }))
    const x = Float64Array.from({ length: d }, (_, i) => Math.sin(i))
    const { row, product } = fresh.gram.rowAndProduct(3, x)
    expect(Array.from(row)).toEqual(Array.from(r3))
    expect(fresh.gram.rowsComputed()).toBe(1)
    for (let c = 0; c < k; c++) {
      let s = 0
      for (let i = 0; i < d; i++) s += w[c * d + i]! * x[i]!
      expect(Math.abs(product[c]! - s)).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(s)))
    }
    expect(Array.from(fresh.gram.rowAndProduct(3, x).product)).toEqual(Array.from(product))
  })

  it('a margin query without a box computes only the rows of the target and of the competitors that enter, and equals the dense solver', () => {
    const d = 300
    const k = 200
    const model = SoftmaxRegression.random(d, k, 11)
    const rng = createRng(4)
    for (let q = 0; q < 5; q++) {
      const x0 = Float64Array.from({ length: d }, () => rng.next())
      const target = rng.int(k)
      const lazy = unwrap(prepareSoftmax(model))
      const r = unwrap(inverseSoftmax(lazy, x0, { target, margin: 0.5 }))
      // Each competitor in the active set needed its row of M, and the target's row; far fewer than K.
      expect(lazy.gram.rowsComputed()).toBeGreaterThanOrEqual(1 + r.activeClasses.length)
      expect(lazy.gram.rowsComputed()).toBeLessThan(k / 4)
      expect(r.kktResidual).toBeLessThanOrEqual(1e-10)
      // The boxed solver forms all of M and the dense H; a box no answer reaches leaves the problem as it is.
      const boxed = unwrap(resolveProblem(x0, { target, margin: 0.5, domain: { lower: -1e6, upper: 1e6 } }, d, k))
      const dense = unwrap(solveMargin(unwrap(prepareSoftmax(model)), boxed, 0.5))
      expect(Math.abs(r.distance - dense.distance)).toBeLessThanOrEqual(1e-9 * Math.max(1, dense.distance))
      let gap = 0
      for (let i = 0; i < d; i++) gap = Math.max(gap, Math.abs(r.x[i]! - dense.x[i]!))
      expect(gap).toBeLessThanOrEqual(1e-9)
    }
  })

  it('later queries reuse the rows: the same query again computes none and gives the same bits', () => {
    const model = SoftmaxRegression.random(120, 60, 2)
    const prep: PreparedSoftmax = unwrap(prepareSoftmax(model))
    const x0 = new Float64Array(120).fill(0.25)
    const a = unwrap(inverseSoftmax(prep, x0, { target: 7 }))
    const rows = prep.gram.rowsComputed()
    expect(rows).toBeGreaterThan(0)
    const b = unwrap(inverseSoftmax(prep, x0, { target: 7 }))
    expect(prep.gram.rowsComputed()).toBe(rows)
    expect(Array.from(b.x)).toEqual(Array.from(a.x))
    // An unprepared model gives the same answer.
    expect(Array.from(unwrap(inverseSoftmax(model, x0, { target: 7 })).x)).toEqual(Array.from(a.x))
  })

  it('a hand-made or borrowed preparation is not trusted: it is prepared again for its own model', () => {
    const m1 = SoftmaxRegression.random(10, 4, 1)
    const m2 = SoftmaxRegression.random(10, 4, 2)
    const p1 = unwrap(prepareSoftmax(m1))
    const x0 = new Float64Array(10).fill(0.5)
    const borrowed = { ...p1, model: m2 }
    const r = unwrap(inverseSoftmax(borrowed, x0, { target: 2 }))
    const direct = unwrap(inverseSoftmax(m2, x0, { target: 2 }))
    expect(Array.from(r.x)).toEqual(Array.from(direct.x))
  })

  it('identical competitors that cannot both be beaten by the margin: Infeasible without a box', () => {
    const w = Float64Array.of(1, 0, 1, 0, 0, 1)
    const r = inverseSoftmax({ weights: { rows: 3, cols: 2, data: w }, bias: Float64Array.of(0, 0, 1) }, Float64Array.of(0, 0), { target: 0, margin: 0.5 })
    expect(E.isLeft(r) && r.left._tag).toBe('Infeasible')
  })

  it('with a box, the solver over a growing set of competitors equals the one over all of them (which brute force checks in the fuzz suites)', () => {
    const rng = createRng(9)
    let binding = 0
    for (const [d, k] of [[3, 5], [8, 12], [60, 40], [200, 120]] as const) {
      const model = SoftmaxRegression.random(d, k, d * k)
      const prep = unwrap(prepareSoftmax(model))
      for (let q = 0; q < 6; q++) {
        const x0 = Float64Array.from({ length: d }, () => 2 * rng.next() - 0.5)
        const target = rng.int(k)
        const p = unwrap(resolveProblem(x0, { target, margin: 0.3, domain: { lower: 0, upper: 1 } }, d, k))
        const a = solveMarginRestricted(prep, p, p.margin)
        const b = solveMargin(prep, p, p.margin)
        expect(E.isRight(a) ? 'Right' : a.left._tag).toBe(E.isRight(b) ? 'Right' : b.left._tag)
        if (E.isRight(a) && E.isRight(b)) {
          expect(Math.abs(a.right.distance - b.right.distance)).toBeLessThanOrEqual(1e-9 * Math.max(1, b.right.distance))
          expect(a.right.kktResidual).toBeLessThanOrEqual(1e-10)
          if (a.right.activeClasses.length > 1) binding++
        }
      }
    }
    expect(binding).toBeGreaterThan(3)
  })

  it('nearly coincident classes (‖w_t − w_c‖² = 1e-6 under M entries of 1e12): the analytic answer, not a false Infeasible', () => {
    // (w_0 − w_1)·x + b_0 − b_1 ≥ 0 with w_0 − w_1 = (0, −1e-3), b_0 − b_1 = −1: x = (0, −1000).
    const model = { weights: { rows: 2, cols: 2, data: Float64Array.of(1e6, 0, 1e6, 1e-3) }, bias: Float64Array.of(0, 1) }
    const r = unwrap(inverseSoftmax(model, Float64Array.of(0, 0), { target: 0, margin: 0 }))
    expect(Math.abs(r.x[0]!)).toBeLessThanOrEqual(1e-9)
    expect(Math.abs(r.x[1]! + 1000)).toBeLessThanOrEqual(1e-9)
    expect(Math.abs(r.distance - 1000)).toBeLessThanOrEqual(1e-9)
  })
})
