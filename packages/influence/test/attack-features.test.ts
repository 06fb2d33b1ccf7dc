import { describe, expect, it } from 'vitest'
import { createRng, takeRows, type Matrix } from '@sonde/oracle'
import { LogisticRegression } from '@sonde/models'
import { inputInfluenceThrough, trainingSetAttack, type FeatureMap } from '../src/index.js'
import { onesAndSevens } from './attack-check.js'
import { run, unwrap } from './helpers.js'

/**
 * A float64 feature map φ(x) = tanh(A x + b) (m × d, seeded), with its exact pullback Aᵀ(v ⊙ (1 − φ²)):
 * a stand-in for a frozen network whose derivatives are known to machine precision.
 */
const tanhFeatures = (d: number, m: number, seed: number): FeatureMap => {
  const rng = createRng(seed)
  const a = Float64Array.from({ length: m * d }, () => (rng.normal() * 3) / Math.sqrt(d))
  const b = Float64Array.from({ length: m }, () => rng.normal() * 0.5)
  const map = (x: Matrix): Matrix => {
    const out = new Float64Array(x.rows * m)
    for (let i = 0; i < x.rows; i++) {
      for (let c = 0; c < m; c++) {
        let s = b[c]!
        for (let q = 0; q < d; q++) s += a[c * d + q]! * x.data[i * d + q]!
        out[i * m + c] = Math.tanh(s)
      }
    }
    return { rows: x.rows, cols: m, data: out }
  }
  const pullback = (x: Matrix, v: Matrix): Matrix => {
    const f = map(x)
    const out = new Float64Array(x.rows * d)
    for (let i = 0; i < x.rows; i++) {
      for (let c = 0; c < m; c++) {
        const w = v.data[i * m + c]! * (1 - f.data[i * m + c]! ** 2)
        for (let q = 0; q < d; q++) out[i * d + q]! += w * a[c * d + q]!
      }
    }
    return { rows: x.rows, cols: d, data: out }
  }
  return { inputDim: d, outputDim: m, map, pullback, domain: { lower: 0, upper: 1 } }
}

const setting = () => {
  const { train, test } = onesAndSevens()
  const features = tanhFeatures(train.x.cols, 12, 3)
  const l2 = 0.01
  const model = unwrap(LogisticRegression.fit(features.map(train.x) as Matrix, train.y, { l2 })).model
  return { train, test, features, model, l2 }
}

describe('I_pert,loss through a feature map (inputInfluenceThrough)', () => {
  it('the pullback is the Jacobian transpose: directional derivatives match central differences of φ to 1e-7', () => {
    const { train, features } = setting()
    const d = train.x.cols
    const x = takeRows(train.x, [0, 5])
    const rng = createRng(9)
    const v = { rows: 2, cols: 12, data: Float64Array.from({ length: 24 }, () => rng.normal()) }
    const g = features.pullback(x, v) as Matrix
    const u = Float64Array.from({ length: d }, () => rng.normal())
    const h = 1e-5
    for (let i = 0; i < 2; i++) {
      const at = (s: number): number => {
        const row = Float64Array.from(x.data.subarray(i * d, (i + 1) * d), (p, q) => p + s * u[q]!)
        const f = (features.map({ rows: 1, cols: d, data: row }) as Matrix).data
        return f.reduce((acc, fc, c) => acc + fc * v.data[i * 12 + c]!, 0)
      }
      const fd = (at(h) - at(-h)) / (2 * h)
      const analytic = u.reduce((acc, uq, q) => acc + uq * g.data[i * d + q]!, 0)
      expect(Math.abs(fd - analytic)).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(analytic)))
    }
  })

  it('predicts the change in test loss when a training image moves, against re-mapping and actual retraining (central difference 1 %)', async () => {
    const { train, test, features, model } = setting()
    const d = train.x.cols
    const target = { x: takeRows(test.x, [3]), y: test.y.slice(3, 4) }
    const pert = await run(inputInfluenceThrough(model, train, target, features, { method: 'cg', rows: [0, 7, 42] }))
    const g = pert.gradients[0]!
    expect([g.rows, g.cols]).toEqual([3, d])
    const lossBefore = model.losses(features.map(target.x) as Matrix, target.y)[0]!
    for (const [r, j] of [0, 7, 42].entries()) {
      const delta = g.data.subarray(r * d, (r + 1) * d)
      const norm = Math.sqrt(delta.reduce((acc, v) => acc + v * v, 0))
      const h = 0.02 / norm
      // Central difference of the retrained test loss along the predicted gradient (second-order terms cancel).
      const lossAt = (s: number): number => {
        const data = train.x.data.slice()
        for (let q = 0; q < d; q++) data[j * d + q]! += s * h * delta[q]!
        const refit = unwrap(model.refit(features.map({ rows: train.x.rows, cols: d, data }) as Matrix, train.y, { tol: 1e-12 })).model
        return refit.losses(features.map(target.x) as Matrix, target.y)[0]!
      }
      const actual = (lossAt(1) - lossAt(-1)) / 2
      const predicted = h * norm * norm
      expect(Math.abs(actual - predicted)).toBeLessThanOrEqual(0.01 * Math.abs(predicted) + 1e-12)
      // And one-sided, as the attack uses it: within 10 %.
      expect(Math.abs(lossAt(1) - lossBefore - predicted)).toBeLessThanOrEqual(0.1 * Math.abs(predicted))
    }
  })
})

describe('training-set attack through a feature map', () => {
  it('perturbs pixels within the L∞ box and [0, 1]; every reported flip holds for a model trained from scratch on the re-mapped poisoned set', async () => {
    const { train, test, features, model, l2 } = setting()
    const d = train.x.cols
    const fTest = features.map(test.x) as Matrix
    const z = model.logits(fTest)
    const margins = Array.from({ length: test.x.rows }, (_, i) => (test.y[i] === 1 ? 1 : -1) * z.data[2 * i + 1]!)
    const targets = Array.from(margins.keys()).filter((i) => margins[i]! > 0).sort((a, b) => margins[a]! - margins[b]!).slice(0, 6)
    const eps = 0.2
    const r = await run(trainingSetAttack(model, train, test, { features, epsilon: eps, perturbed: 2, steps: 6, targets, candidates: 40 }))
    expect(r.attempted).toBe(6)
    for (const o of r.outcomes) {
      expect(o.linf).toBeLessThanOrEqual(eps + 1e-12)
      for (const v of o.images.data) expect(v >= 0 && v <= 1).toBe(true)
      expect(o.testLossAfter).toBeGreaterThan(o.testLossBefore)
      const data = train.x.data.slice()
      o.trainRows.forEach((j, k) => data.set(o.images.data.subarray(k * d, (k + 1) * d), j * d))
      const scratch = unwrap(LogisticRegression.fit(features.map({ rows: train.x.rows, cols: d, data }) as Matrix, train.y, { l2 })).model
      const label = scratch.logits(takeRows(fTest, [o.testRow])).data[1]! > 0 ? 1 : 0
      expect(label).toBe(o.labelAfter)
      expect(o.flipped).toBe(label !== test.y[o.testRow])
    }
    console.log(`through tanh features, ε = ${eps}, 2 images: ${r.flipped}/${r.attempted} flipped (${r.retrains} retrainings)`)
    expect(r.flipped).toBeGreaterThan(0)
  })

  it('refuses a bad feature map, a feature width the model does not read, and too few candidates', async () => {
    const { train, test, features, model } = setting()
    const bad = await trainingSetAttack(model, train, test, { epsilon: 0.1, features: { ...features, pullback: 3 } as unknown as FeatureMap })()
    expect(bad._tag === 'Left' && bad.left._tag === 'InvalidOptions' && bad.left.message.includes('options.features.pullback')).toBe(true)
    const wide = await trainingSetAttack(model, train, test, { epsilon: 0.1, features: { ...features, outputDim: 13 } })()
    expect(wide._tag === 'Left' && wide.left._tag).toBe('ShapeMismatch')
    const few = await trainingSetAttack(model, train, test, { epsilon: 0.1, perturbed: 2, candidates: 1, features })()
    expect(few._tag === 'Left' && few.left._tag === 'InvalidOptions' && few.left.message.includes('options.candidates')).toBe(true)
    const nan = await trainingSetAttack(model, train, test, { epsilon: 0.1, targets: [0], features: { ...features, map: (x: Matrix) => ({ rows: x.rows, cols: 12, data: new Float64Array(x.rows * 12).fill(Number.NaN) }) } })()
    expect(nan._tag === 'Left' && nan.left._tag).toBe('BadResponse')
  })
})
