import { either as E } from 'fp-ts'
import { describe, expect, it } from 'vitest'
import { fromFunction, labelOnly, meter, notJsonSafe, toPromise, type GradientOracle, type Matrix, type OracleInfo } from '@sonde/oracle'
import { auditReport, audit, blackBoxCounterfactual, blackBoxCounterfactualReport, explanationLeakAudit, explanationLeakReport } from '../src/index.js'

/** A K-class linear model W x + b written here (independent of @sonde/models), with logits and gradients. */
const linear = (w: number[][], b: number[], info: Partial<OracleInfo> = {}): GradientOracle => {
  const k = w.length
  const d = w[0]!.length
  const logits = (x: Matrix): Matrix => {
    const out = new Float64Array(x.rows * k)
    for (let i = 0; i < x.rows; i++) for (let c = 0; c < k; c++) {
      let s = b[c]!
      for (let j = 0; j < d; j++) s += w[c]![j]! * x.data[i * d + j]!
      out[i * k + c] = s
    }
    return { rows: x.rows, cols: k, data: out }
  }
  return fromFunction({ id: 'test:linear', inputDim: d, numClasses: k, output: 'logits', ...info }, logits, {
    gradient: (x, cls) => {
      const g = new Float64Array(x.rows * d)
      for (let i = 0; i < x.rows; i++) g.set(w[cls[i]!]!, i * d)
      return { rows: x.rows, cols: d, data: g }
    },
  })
}

describe('blackBoxCounterfactual', () => {
  it('finds a point the box confirms, no nearer than the true boundary and within 5 % of it, counted end to end', async () => {
    // Two classes in 4-D: the boundary is (w1 − w0)·x + (b1 − b0) = 0, so the exact distance is analytic.
    const w = [[0.5, -1, 0.25, 0], [-0.5, 1, 0.75, 1]]
    const b = [0.3, -0.2]
    const box = meter(labelOnly(linear(w, b)))
    const x0 = Float64Array.of(0.2, -0.4, 0.1, -0.3)
    const dw = w[1]!.map((v, j) => v - w[0]![j]!)
    const gap = dw.reduce((s, v, j) => s + v * x0[j]!, b[1]! - b[0]!)
    const exact = Math.abs(gap) / Math.hypot(...dw)
    expect(gap).toBeLessThan(0) // x0 is in class 0
    const r = await toPromise(blackBoxCounterfactual(box, x0, { target: 1, budget: 1500, seed: 3 }))
    expect(r.confirmed).toBe(true)
    expect(r.distance).toBeGreaterThanOrEqual(exact * (1 - 1e-9))
    expect(r.distance).toBeLessThanOrEqual(exact * 1.05)
    const u = box.usage()
    expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: 0, calls: u.predictCalls, cacheHits: 0 })
    expect(r.queries.predictRows).toBeLessThanOrEqual(1500)
    expect(r.stages.copy.predictRows + r.stages.counterfactual.predictRows).toBe(r.queries.predictRows)
    const report = blackBoxCounterfactualReport(r)
    expect(notJsonSafe(report)).toBeUndefined()
    expect(report.headline).toContain('class 1')
  })

  it('refuses bad options before any query', async () => {
    const box = meter(labelOnly(linear([[1, 0], [0, 1]], [0, 0])))
    const r = await blackBoxCounterfactual(box, Float64Array.of(0, Number.NaN), { target: 5, budget: 3, seed: 1.5 })()
    expect(E.isLeft(r) && r.left._tag).toBe('InvalidOptions')
    const r2 = await blackBoxCounterfactual(box, Float64Array.of(0, Number.NaN), { target: 5, budget: 3, seed: 1 })()
    expect(E.isLeft(r2) && r2.left._tag === 'InvalidOptions' && r2.left.issues.map((i) => i.path)).toEqual(['x0', 'options.target', 'options.budget'])
    expect(box.usage().predictCalls).toBe(0)
  })
})

describe('explanationLeakAudit', () => {
  it('a linear model behind an explanation API is rebuilt exactly', async () => {
    const api = meter(linear([[0.5, -1, 0.25], [-0.5, 1, 0.75], [1, 1, -1]], [0.3, -0.2, 0.1]))
    const r = await toPromise(explanationLeakAudit(api, { budget: 300, seed: 2, checkPoints: 50 }))
    expect(r.verdict).toBe('linear-exact')
    expect(r.agreement).toBe(1)
    const u = api.usage()
    expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 })
    // 50 check rows + 1 value row + 3 gradient rows (one per class).
    expect(r.queries.predictRows + r.queries.gradientRows).toBe(54)
    const report = explanationLeakReport(r)
    expect(notJsonSafe(report)).toBeUndefined()
    expect(JSON.parse(JSON.stringify(report))).toEqual(report)
  })

  it('a two-layer ReLU network is rebuilt exactly where the linear rebuild fails', async () => {
    // f(x) = Σ aᵢ ReLU(wᵢ·x + cᵢ) + a₀, one logit.
    const W = [[1, -0.5, 0.3], [-0.7, 0.2, 0.9], [0.4, 0.8, -0.6]]
    const c = [0.1, -0.2, 0.05]
    const a = [1.2, -0.8, 0.6]
    const d = 3
    const f = (x: Float64Array): { v: number; g: Float64Array } => {
      let v = 0.3
      const g = new Float64Array(d)
      W.forEach((wi, i) => {
        const pre = wi.reduce((s, wj, j) => s + wj * x[j]!, c[i]!)
        if (pre > 0) {
          v += a[i]! * pre
          wi.forEach((wj, j) => (g[j]! += a[i]! * wj))
        }
      })
      return { v, g }
    }
    const api = meter(
      fromFunction({ id: 'test:relu', inputDim: d, numClasses: 1, output: 'logits' }, (x) => ({ rows: x.rows, cols: 1, data: Float64Array.from({ length: x.rows }, (_, i) => f(x.data.subarray(i * d, (i + 1) * d)).v) }), {
        gradient: (x) => {
          const g = new Float64Array(x.rows * d)
          for (let i = 0; i < x.rows; i++) g.set(f(x.data.subarray(i * d, (i + 1) * d)).g, i * d)
          return { rows: x.rows, cols: d, data: g }
        },
      }),
    )
    const r = await toPromise(explanationLeakAudit(api, { budget: 4000, seed: 4, checkPoints: 50 }))
    expect(r.steps.map((s) => s.step)).toEqual(['linear', 'relu'])
    expect(r.steps[0]!.outcome).not.toBe('exact')
    expect(r.verdict).toBe('relu-exact')
    const u = api.usage()
    expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 })
  })
})

describe('audit', () => {
  it('runs every section the capabilities allow within the budget, and its report is JSON', async () => {
    const api = meter(linear([[0.5, -1, 0.25], [-0.5, 1, 0.75]], [0.3, -0.2], { domain: { lower: -1, upper: 1 } }))
    const r = await toPromise(audit(api, { budget: 1200, seed: 5, counterfactuals: 2 }))
    expect(r.sections.map((s) => s.id)).toEqual(['copy', 'counterfactuals', 'explanations'])
    const u = api.usage()
    expect(r.queries).toEqual({ predictRows: u.predictRows, gradientRows: u.gradientRows, calls: u.predictCalls + u.gradientCalls, cacheHits: 0 })
    expect(u.predictRows + u.gradientRows).toBeLessThanOrEqual(1200)
    const report = auditReport(r)
    expect(notJsonSafe(report)).toBeUndefined()
    expect(JSON.parse(JSON.stringify(report))).toEqual(report)
    expect(report.sections!.length).toBe(3)
    expect(report.sections![2]!.headline).toContain('rebuilt exactly')
    // A label-only oracle gets no explanations section.
    const labels = await toPromise(audit(labelOnly(api), { budget: 600, seed: 5, counterfactuals: 1 }))
    expect(labels.sections.map((s) => s.id)).toEqual(['copy', 'counterfactuals'])
  })
  it('with labelled data it looks for error regions too, trains its generator on the data, and stays within the budget', async () => {
    // A 2-D plane: the truth is x₀ > 0; the model is right except in a disc around (1, 1), where it says 0.
    const n = 300
    const pts = Float64Array.from({ length: 2 * n }, (_, k) => Math.sin(7.13 * k + 0.3) * 2)
    const y = Int32Array.from({ length: n }, (_, i) => (pts[2 * i]! > 0 ? 1 : 0))
    const buggy = meter(
      fromFunction({ id: 'test:disc-bug', inputDim: 2, numClasses: 2, output: 'label' }, (x) =>
        Int32Array.from({ length: x.rows }, (_, i) => {
          const a = x.data[2 * i]!
          const b = x.data[2 * i + 1]!
          return Math.hypot(a - 1, b - 1) < 0.6 ? 0 : a > 0 ? 1 : 0
        }),
      ),
    )
    const r = await toPromise(audit(buggy, { budget: 1500, seed: 2, counterfactuals: 2, data: { x: { rows: n, cols: 2, data: pts }, y } }))
    expect(r.sections.map((s) => s.id)).toEqual(['copy', 'counterfactuals', 'error-regions'])
    const regions = r.sections[2]!
    expect(regions.report, regions.note).not.toBeNull()
    expect(regions.report!.headline).toMatch(/misclassification region/)
    const u = buggy.usage()
    expect(u.predictRows).toBeLessThanOrEqual(1500)
    expect(r.queries.predictRows).toBe(u.predictRows)
    const report = auditReport(r)
    expect(notJsonSafe(report)).toBeUndefined()
  })
})
