import { describe, expect, it } from 'vitest'
import { takeRows, toPromise } from '@sonde/oracle'
import { SoftmaxRegression } from '@sonde/models'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { influenceOnTest, mostInfluential, validateAgainstRetraining } from '../src/index.js'
import { firstMisclassified, leaveOneOut, maxRelativeDifference, pearson, pool2, run, unwrap } from './helpers.js'

// The paper-scale leave-one-out checks; loo.test.ts proves the same properties on small problems.
// Measured alone: 146 s (n = 5,040) and 14 s (n = 2,000); timeouts ≥ 4× those.
describe('softmax regression on MNIST (Koh & Liang Figure 2 at n = 5,040)', () => {
  it('cg: predicted vs actual leave-one-out change over the 50 most influential digits, Pearson ≥ 0.99', { timeout: 900_000 }, async () => {
    const mnist = loadMnist()
    const { train: tr, test: te } = stratifiedSplit(mnist.y, { testFraction: 0.1, seed: 1, limit: 5600 })
    const train = subset(mnist, tr)
    const testSet = subset(mnist, te)
    expect(train.x.rows).toBeGreaterThanOrEqual(5000)
    const model = unwrap(SoftmaxRegression.fit(train.x, train.y, { l2: 0.01 })).model
    expect(model.numParams).toBe(7850)
    const wrong = firstMisclassified(model.logits(testSet.x), testSet.y)
    // The test digit is one the model gets wrong, by the model's own predict (not the helper's argmax).
    expect(wrong).toBeGreaterThanOrEqual(0)
    expect((await toPromise(model.predict(takeRows(testSet.x, [wrong])))).labels[0]).not.toBe(testSet.y[wrong])
    const test = { x: takeRows(testSet.x, [wrong]), y: testSet.y.slice(wrong, wrong + 1) }
    const infl = await run(influenceOnTest(model, train, test, { method: 'cg' }))
    expect(infl.solves[0]!.relativeResidual).toBeLessThanOrEqual(1e-10)
    const check = await run(validateAgainstRetraining(model, train, test, infl, { count: 50, fit: { tol: 1e-10 } }))
    const r = check.pearson
    console.log(`MNIST softmax n=${train.x.rows}: Pearson ${r.toFixed(4)} over the top 50 (cg, ${infl.solves[0]!.iterations} iterations)`)
    expect(r).toBeGreaterThanOrEqual(0.99)
  })

  it('exact = cg, and exact against leave-one-out, on 14×14 digits (n = 2,000, p = 1,970)', { timeout: 300_000 }, async () => {
    const mnist = pool2(loadMnist())
    const { train: tr, test: te } = stratifiedSplit(mnist.y, { testFraction: 0.05, seed: 2, limit: 2100 })
    const train = subset(mnist, tr)
    const testSet = subset(mnist, te)
    const model = unwrap(SoftmaxRegression.fit(train.x, train.y, { l2: 0.01 })).model
    const wrong = firstMisclassified(model.logits(testSet.x), testSet.y)
    const test = { x: takeRows(testSet.x, [wrong, 0, 1]), y: Int32Array.of(testSet.y[wrong]!, testSet.y[0]!, testSet.y[1]!) }
    const exact = await run(influenceOnTest(model, train, test, { method: 'exact' }))
    const cg = await run(influenceOnTest(model, train, test, { method: 'cg' }))
    expect(exact.solves.every((s) => s.relativeResidual <= 1e-12)).toBe(true)
    expect(maxRelativeDifference(exact.scores.data, cg.scores.data)).toBeLessThanOrEqual(1e-8)
    const top = unwrap(mostInfluential(exact, 0, 50, 'absolute'))
    const predicted = Array.from(top, (j) => exact.scores.data[j]!)
    const actual = Array.from(top, (j) => leaveOneOut(model, train, { x: takeRows(test.x, [0]), y: test.y.slice(0, 1) }, j))
    expect(pearson(predicted, actual)).toBeGreaterThanOrEqual(0.99)
  })
})

