import { describe, expect, it } from 'vitest'
import { takeRows } from '@sonde/oracle'
import { LogisticRegression, SoftmaxRegression } from '@sonde/models'
import { gaussianBlobs, loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { influenceOnTest, mostInfluential, validateAgainstRetraining } from '../src/index.js'
import { firstMisclassified, leaveOneOut, pearson, pool2, unwrap } from './helpers.js'

describe('influence against leave-one-out retraining (small problems, every training point)', () => {
  const cases = [
    { name: 'logistic', k: 2, fit: (x: any, y: Int32Array) => unwrap(LogisticRegression.fit(x, y, { l2: 0.01 })).model },
    { name: 'softmax', k: 4, fit: (x: any, y: Int32Array) => unwrap(SoftmaxRegression.fit(x, y, { numClasses: 4, l2: 0.01 })).model },
  ]
  for (const { name, k, fit } of cases) {
    for (const method of ['exact', 'cg'] as const) {
      it(`${name}, ${method}: Pearson ≥ 0.99 and slope within 25 % of 1 (the sign and 1/n scale are right)`, () => {
        const ds = gaussianBlobs({ n: 160, dim: 5, classes: k, spread: 1.6, seed: 3 })
        const train = { x: takeRows(ds.x, Array.from({ length: 150 }, (_, i) => i)), y: ds.y.slice(0, 150) }
        const test = { x: takeRows(ds.x, [155]), y: ds.y.slice(155, 156) }
        const model = fit(train.x, train.y)
        const infl = unwrap(influenceOnTest(model, train, test, { method }))
        const predicted = Array.from(infl.scores.data)
        const actual = predicted.map((_, j) => leaveOneOut(model, train, test, j))
        expect(pearson(predicted, actual)).toBeGreaterThanOrEqual(0.99)
        // Least-squares slope of actual on predicted: a wrong sign or scale (−1/n) would be far off;
        // the rest is the second-order term at n = 150 (measured slopes 1.0–1.2).
        const slope = actual.reduce((a, v, j) => a + v * predicted[j]!, 0) / predicted.reduce((a, v) => a + v * v, 0)
        expect(Math.abs(slope - 1)).toBeLessThanOrEqual(0.25)
      })
    }
  }
})

describe('softmax regression on MNIST (Koh & Liang Figure 2 at n = 5,040)', () => {
  it('cg: predicted vs actual leave-one-out change over the 50 most influential digits, Pearson ≥ 0.99', { timeout: 600_000 }, () => {
    const mnist = loadMnist()
    const { train: tr, test: te } = stratifiedSplit(mnist.y, { testFraction: 0.1, seed: 1, limit: 5600 })
    const train = subset(mnist, tr)
    const testSet = subset(mnist, te)
    expect(train.x.rows).toBeGreaterThanOrEqual(5000)
    const model = unwrap(SoftmaxRegression.fit(train.x, train.y, { l2: 0.01 })).model
    expect(model.numParams).toBe(7850)
    const wrong = firstMisclassified(model.logits(testSet.x), testSet.y)
    expect(wrong).toBeGreaterThanOrEqual(0)
    const test = { x: takeRows(testSet.x, [wrong]), y: testSet.y.slice(wrong, wrong + 1) }
    const infl = unwrap(influenceOnTest(model, train, test, { method: 'cg' }))
    expect(infl.solves[0]!.relativeResidual).toBeLessThanOrEqual(1e-10)
    const check = unwrap(validateAgainstRetraining(model, train, test, infl, { count: 50, fit: { tol: 1e-10 } }))
    const r = check.pearson
    console.log(`MNIST softmax n=${train.x.rows}: Pearson ${r.toFixed(4)} over the top 50 (cg, ${infl.solves[0]!.iterations} iterations)`)
    expect(r).toBeGreaterThanOrEqual(0.99)
  })

  it('exact = cg, and exact against leave-one-out, on 14×14 digits (n = 2,000, p = 1,970)', { timeout: 300_000 }, () => {
    const mnist = pool2(loadMnist())
    const { train: tr, test: te } = stratifiedSplit(mnist.y, { testFraction: 0.05, seed: 2, limit: 2100 })
    const train = subset(mnist, tr)
    const testSet = subset(mnist, te)
    const model = unwrap(SoftmaxRegression.fit(train.x, train.y, { l2: 0.01 })).model
    const wrong = firstMisclassified(model.logits(testSet.x), testSet.y)
    const test = { x: takeRows(testSet.x, [wrong, 0, 1]), y: Int32Array.of(testSet.y[wrong]!, testSet.y[0]!, testSet.y[1]!) }
    const exact = unwrap(influenceOnTest(model, train, test, { method: 'exact' }))
    const cg = unwrap(influenceOnTest(model, train, test, { method: 'cg' }))
    expect(exact.solves.every((s) => s.relativeResidual <= 1e-12)).toBe(true)
    let worst = 0
    let scale = 0
    for (let q = 0; q < exact.scores.data.length; q++) {
      worst = Math.max(worst, Math.abs(exact.scores.data[q]! - cg.scores.data[q]!))
      scale = Math.max(scale, Math.abs(exact.scores.data[q]!))
    }
    expect(worst / scale).toBeLessThanOrEqual(1e-8)
    const top = mostInfluential(exact, 0, 50, 'absolute')
    const predicted = Array.from(top, (j) => exact.scores.data[j]!)
    const actual = Array.from(top, (j) => leaveOneOut(model, train, { x: takeRows(test.x, [0]), y: test.y.slice(0, 1) }, j))
    expect(pearson(predicted, actual)).toBeGreaterThanOrEqual(0.99)
  })
})

describe('validateAgainstRetraining', () => {
  it('refuses a count below 2, a bad test row and scores of the wrong width', () => {
    const ds = gaussianBlobs({ n: 40, dim: 3, classes: 2, seed: 1 })
    const model = unwrap(LogisticRegression.fit(ds.x, ds.y, { l2: 0.1 })).model
    const test = { x: takeRows(ds.x, [0]), y: ds.y.slice(0, 1) }
    const infl = unwrap(influenceOnTest(model, ds, test))
    const tags = [
      validateAgainstRetraining(model, ds, test, infl, { count: 1 }),
      validateAgainstRetraining(model, ds, test, infl, { testRow: 3 }),
      validateAgainstRetraining(model, { x: takeRows(ds.x, [0, 1, 2]), y: ds.y.slice(0, 3) }, test, infl),
    ].map((r) => (r._tag === 'Left' ? r.left._tag : 'Right'))
    expect(tags).toEqual(['InvalidOptions', 'InvalidOptions', 'ShapeMismatch'])
  })
})
