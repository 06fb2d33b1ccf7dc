import { describe, expect, it } from 'vitest'
import { takeRows } from '@sonde/oracle'
import { LogisticRegression } from '@sonde/models'
import { inputInfluence, trainingSetAttack } from '../src/index.js'
import { checkAttack, onesAndSevens } from './attack-check.js'
import { run, unwrap } from './helpers.js'

describe('training inputs through the refit (I_pert,loss)', () => {
  it('predicts the change in test loss when a training image moves, against actual retraining', async () => {
    const { train, test } = onesAndSevens()
    const model = unwrap(LogisticRegression.fit(train.x, train.y, { l2: 0.01, domain: { lower: 0, upper: 1 } })).model
    const target = { x: takeRows(test.x, [3]), y: test.y.slice(3, 4) }
    const pert = await run(inputInfluence(model, train, target, { method: 'cg' }))
    const g = pert.gradients[0]!
    const d = train.x.cols
    // Asking for some rows gives exactly those rows of the full answer.
    const some = (await run(inputInfluence(model, train, target, { method: 'cg', rows: [42, 7] }))).gradients[0]!
    expect(Array.from(some.data)).toEqual([...g.data.subarray(42 * d, 43 * d), ...g.data.subarray(7 * d, 8 * d)])
    expect((await inputInfluence(model, train, target, { rows: [train.x.rows] })())._tag).toBe('Left')
    for (const j of [0, 7, 42]) {
      // A small step along the predicted gradient of training image j.
      const delta = Float64Array.from(g.data.subarray(j * d, (j + 1) * d), (v) => v)
      const norm = Math.sqrt(delta.reduce((a, v) => a + v * v, 0))
      const h = 0.05 / norm
      const data = train.x.data.slice()
      for (let q = 0; q < d; q++) data[j * d + q]! += h * delta[q]!
      const refit = unwrap(model.refit({ rows: train.x.rows, cols: d, data }, train.y)).model
      const actual = refit.losses(target.x, target.y)[0]! - model.losses(target.x, target.y)[0]!
      const predicted = h * norm * norm
      expect(Math.abs(actual - predicted)).toBeLessThanOrEqual(0.05 * Math.abs(predicted) + 1e-9)
    }
  })
})

describe('training-set attack on binary logistic regression (MNIST 1 vs 7)', () => {
  // Measured (seeded): 200 training digits, ε = 0.1, pixels kept in [0, 1]: of the 40 correct test digits of
  // smallest margin, 2 flip with 1 image and 2 with 2 — the two of smallest margin (most pixels are saturated
  // at 0 or 1, so the box leaves little room). Koh & Liang's 57 % / 77 % is on Inception features. This tier
  // attacks the 8 of smallest margin; attack.slow.test.ts all 40.
  it('perturbing 1 and 2 training images within an L∞ box of 0.1 flips a measured fraction of the 8 correct test predictions of smallest margin', async () => {
    await checkAttack(8)
  })

  it('refuses a missing or bad epsilon', async () => {
    const { train, test } = onesAndSevens()
    const model = unwrap(LogisticRegression.fit(train.x, train.y, { l2: 0.01 })).model
    const r = await trainingSetAttack(model, train, test, { epsilon: -1 })()
    expect(r._tag === 'Left' && r.left._tag === 'InvalidOptions' && r.left.message.includes('options.epsilon')).toBe(true)
  })
})

// Inputs that once broke us (a fuzz run against the built packages).
describe('fixtures: training-set attack', () => {
  it('keeps every perturbed pixel inside a per-feature domain (once read only scalar bounds)', async () => {
    const { train, test } = onesAndSevens()
    const d = train.x.cols
    // Half the pixels may not move down, the other half may not move up: a per-feature box.
    const lower = Float64Array.from({ length: d }, (_, q) => (q % 2 === 0 ? 0 : -1))
    const upper = Float64Array.from({ length: d }, (_, q) => (q % 2 === 0 ? 2 : 1))
    const model = unwrap(LogisticRegression.fit(train.x, train.y, { l2: 0.01 })).model
    const origin = train.x.data
    const r = await run(trainingSetAttack(model, train, test, { epsilon: 0.5, perturbed: 1, steps: 2, targets: [0, 1], domain: { lower, upper } }))
    for (const o of r.outcomes) {
      o.trainRows.forEach((j, k) => {
        for (let q = 0; q < d; q++) {
          const v = o.images.data[k * d + q]!
          expect(v >= lower[q]! && v <= upper[q]!).toBe(true)
          expect(Math.abs(v - origin[j * d + q]!)).toBeLessThanOrEqual(0.5 + 1e-12)
        }
      })
    }
    const bad = await trainingSetAttack(model, train, test, { epsilon: 0.1, domain: { lower: new Float64Array(3), upper: 1 } })()
    expect(bad._tag === 'Left' && bad.left._tag).toBe('InvalidOptions')
  })
})
