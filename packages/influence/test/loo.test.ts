import { describe, expect, it } from 'vitest'
import { takeRows, type Matrix } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression, type TwiceDifferentiable } from '@sonde/models'
import { gaussianBlobs } from '@sonde/datasets'
import { influenceOnTest, validateAgainstRetraining } from '../src/index.js'
import { leaveOneOut, maxRelativeDifference, pearson, run, unwrap } from './helpers.js'

describe('influence against leave-one-out retraining (small problems, every training point)', () => {
  const cases = [
    { name: 'logistic', k: 2, fit: (x: Matrix, y: Int32Array): TwiceDifferentiable => unwrap(LogisticRegression.fit(x, y, { l2: 0.01 })).model },
    { name: 'softmax', k: 4, fit: (x: Matrix, y: Int32Array): TwiceDifferentiable => unwrap(SoftmaxRegression.fit(x, y, { numClasses: 4, l2: 0.01 })).model },
  ]
  for (const { name, k, fit } of cases) {
    for (const method of ['exact', 'cg'] as const) {
      it(`${name}, ${method}: Pearson ≥ 0.99 and slope within 25 % of 1 (the sign and 1/n scale are right)`, async () => {
        const ds = gaussianBlobs({ n: 160, dim: 5, classes: k, spread: 1.6, seed: 3 })
        const train = { x: takeRows(ds.x, Array.from({ length: 150 }, (_, i) => i)), y: ds.y.slice(0, 150) }
        const test = { x: takeRows(ds.x, [155]), y: ds.y.slice(155, 156) }
        const model = fit(train.x, train.y)
        const infl = await run(influenceOnTest(model, train, test, { method }))
        const predicted = Array.from(infl.scores.data)
        const actual = predicted.map((_, j) => leaveOneOut(model, train, test, j))
        expect(pearson(predicted, actual)).toBeGreaterThanOrEqual(0.99)
        // Least-squares slope of actual on predicted: a wrong sign or scale (−1/n) would be far off;
        // the rest is the second-order term at n = 150 (measured slopes 1.0–1.2).
        const slope = actual.reduce((a, v, j) => a + v * predicted[j]!, 0) / predicted.reduce((a, v) => a + v * v, 0)
        expect(Math.abs(slope - 1)).toBeLessThanOrEqual(0.25)
      })
    }

    it(`${name}: exact = cg to 1e-8 (relative to the largest score) on every training point`, async () => {
      const ds = gaussianBlobs({ n: 160, dim: 5, classes: k, spread: 1.6, seed: 3 })
      const train = { x: takeRows(ds.x, Array.from({ length: 150 }, (_, i) => i)), y: ds.y.slice(0, 150) }
      const test = { x: takeRows(ds.x, [150, 155]), y: Int32Array.of(ds.y[150]!, ds.y[155]!) }
      const model = fit(train.x, train.y)
      const exact = await run(influenceOnTest(model, train, test, { method: 'exact' }))
      const cg = await run(influenceOnTest(model, train, test, { method: 'cg' }))
      // The exact solve is a Cholesky factorisation: its residual is at rounding level.
      expect(exact.solves.every((s) => s.relativeResidual <= 1e-12)).toBe(true)
      expect(maxRelativeDifference(exact.scores.data, cg.scores.data)).toBeLessThanOrEqual(1e-8)
    })
  }
})

describe('validateAgainstRetraining', () => {
  it('refuses a count below 2, a bad test row and scores of the wrong width', async () => {
    const ds = gaussianBlobs({ n: 40, dim: 3, classes: 2, seed: 1 })
    const model = unwrap(LogisticRegression.fit(ds.x, ds.y, { l2: 0.1 })).model
    const test = { x: takeRows(ds.x, [0]), y: ds.y.slice(0, 1) }
    const infl = await run(influenceOnTest(model, ds, test))
    const tags = (
      await Promise.all([
        validateAgainstRetraining(model, ds, test, infl, { count: 1 })(),
        validateAgainstRetraining(model, ds, test, infl, { testRow: 3 })(),
        validateAgainstRetraining(model, { x: takeRows(ds.x, [0, 1, 2]), y: ds.y.slice(0, 3) }, test, infl)(),
      ])
    ).map((r) => (r._tag === 'Left' ? r.left._tag : 'Right'))
    expect(tags).toEqual(['InvalidOptions', 'InvalidOptions', 'ShapeMismatch'])
  })
})
