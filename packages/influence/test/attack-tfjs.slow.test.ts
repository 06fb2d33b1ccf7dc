import { beforeAll, describe, expect, it } from 'vitest'
import { createRng, permutation, takeRows, toPromise, type Matrix } from '@sonde/oracle'
import { LogisticRegression } from '@sonde/models'
import { buildCnn, buildMlp, trainClassifier, useFastestBackend } from '@sonde/models/tfjs'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { trainingSetAttack } from '../src/index.js'
import { featureMapFromTfjs } from '../src/tfjs/index.js'
import { unwrap, run } from './helpers.js'

beforeAll(async () => {
  await useFastestBackend()
})

/**
 * Koh & Liang's setting at a small size: a CNN trained on the eight digits other than 4 and 9, frozen; its
 * flattened convolutional features (784) under a float64 logistic regression for 4 vs 9; the attack perturbs
 * training pixels through the CNN. The bench (`npm run bench -- influence-attack`) runs it at paper scale.
 */
const setting = async () => {
  const mnist = loadMnist()
  const others = Array.from(mnist.y.keys()).filter((i) => mnist.y[i] !== 4 && mnist.y[i] !== 9)
  const pick = Array.from(permutation(others.length, createRng(1)).subarray(0, 2000), (k) => others[k]!)
  const pre = subset(mnist, pick)
  const classes = [0, 1, 2, 3, 5, 6, 7, 8]
  const cnn = buildCnn({ inputShape: [28, 28, 1], numClasses: 8, seed: 1 })
  await toPromise(trainClassifier(cnn, pre.x, Int32Array.from(pre.y, (l) => classes.indexOf(l)), { epochs: 1, seed: 1, learningRate: 2e-3 }))
  const features = unwrap(featureMapFromTfjs(cnn, { layer: -3, domain: { lower: 0, upper: 1 } }))
  const keep = Array.from(mnist.y.keys()).filter((i) => mnist.y[i] === 4 || mnist.y[i] === 9)
  const ds = subset(mnist, keep)
  const y = Int32Array.from(ds.y, (l) => (l === 9 ? 1 : 0))
  const split = stratifiedSplit(y, { testFraction: 0.25, seed: 1, limit: 500 })
  const train = { x: takeRows(ds.x, split.train), y: Int32Array.from(split.train, (i) => y[i]!) }
  const test = { x: takeRows(ds.x, split.test), y: Int32Array.from(split.test, (i) => y[i]!) }
  return { cnn, features, train, test }
}

describe('training-set attack through a frozen tfjs CNN (4 vs 9, extractor trained on the other digits)', () => {
  it('the tfjs pullback matches central differences (a tanh layer, float32: 1 %), and the attack through the CNN flips predictions after retraining', { timeout: 1_200_000 }, async () => {
    const { features, train, test } = await setting()
    const d = 784
    expect([features.inputDim, features.outputDim]).toEqual([784, 784])
    // The adapter's pullback against central differences of v·φ, on a smooth network (a tanh layer of a tfjs MLP):
    // a ReLU/max-pool CNN at a digit sits on kinks (its blank background puts ReLUs at their bias and ties the
    // max-pool windows), where φ has no derivative and float32 leaves no step between the kinks and the noise.
    const mlp = buildMlp({ inputDim: 784, hidden: [32], numClasses: 4, seed: 3, activation: 'tanh' })
    const smooth = unwrap(featureMapFromTfjs(mlp, { layer: 0 }))
    expect([smooth.inputDim, smooth.outputDim]).toEqual([784, 32])
    const rng = createRng(4)
    const x = takeRows(train.x, [0, 1, 2])
    const v = { rows: 3, cols: 32, data: Float64Array.from({ length: 3 * 32 }, () => rng.normal()) }
    const g = (await smooth.pullback(x, v)) as Matrix
    for (let i = 0; i < 3; i++) {
      const u = Float64Array.from({ length: d }, () => rng.normal())
      const at = async (s: number): Promise<number> => {
        const row = Float64Array.from(x.data.subarray(i * d, (i + 1) * d), (p, q) => p + s * u[q]!)
        const f = ((await smooth.map({ rows: 1, cols: d, data: row })) as Matrix).data
        return f.reduce((acc, fc, c) => acc + fc * v.data[i * 32 + c]!, 0)
      }
      const h = 1e-3
      const fd = ((await at(h)) - (await at(-h))) / (2 * h)
      const analytic = u.reduce((acc, uq, q) => acc + uq * g.data[i * d + q]!, 0)
      expect(Math.abs(fd - analytic)).toBeLessThanOrEqual(0.01 * Math.abs(analytic) + 1e-3)
    }
    const l2 = 1e-4
    const fTrain = (await features.map(train.x)) as Matrix
    const fTest = (await features.map(test.x)) as Matrix
    const model = unwrap(LogisticRegression.fit(fTrain, train.y, { l2 })).model
    const z = model.logits(fTest)
    const correct = Array.from({ length: test.x.rows }, (_, i) => i).filter((i) => (z.data[2 * i + 1]! > 0 ? 1 : 0) === test.y[i])
    const targets = Array.from(permutation(correct.length, createRng(2)).subarray(0, 8), (k) => correct[k]!)
    const eps = 0.3
    const r = await run(trainingSetAttack(model, train, test, { features, epsilon: eps, perturbed: 2, steps: 8, candidates: 32, targets }))
    console.log(`tfjs CNN features (784), n = ${train.x.rows}, ε = ${eps}, 2 images: ${r.flipped}/${r.attempted} flipped (${r.retrains} retrainings)`)
    for (const o of r.outcomes) {
      expect(o.linf).toBeLessThanOrEqual(eps + 1e-12)
      for (const val of o.images.data) expect(val >= 0 && val <= 1).toBe(true)
      // Retrain from scratch on the re-mapped poisoned training set: the label the attack reports.
      const data = train.x.data.slice()
      o.trainRows.forEach((j, k) => data.set(o.images.data.subarray(k * d, (k + 1) * d), j * d))
      const scratch = unwrap(LogisticRegression.fit((await features.map({ rows: train.x.rows, cols: d, data })) as Matrix, train.y, { l2 })).model
      const label = scratch.logits(takeRows(fTest, [o.testRow])).data[1]! > 0 ? 1 : 0
      expect(label).toBe(o.labelAfter)
    }
    // Measured (seeded, wasm): 5 of 8 at n = 374. The bench runs n = 1,468.
    expect(r.flipped).toBeGreaterThanOrEqual(4)
  })
})
