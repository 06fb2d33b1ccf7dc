import { expect } from 'vitest'
import { takeRows } from '@sonde/oracle'
import { LogisticRegression } from '@sonde/models'
import { loadMnist, stratifiedSplit, subset } from '@sonde/datasets'
import { trainingSetAttack } from '../src/index.js'
import { run, unwrap } from './helpers.js'

/** MNIST 1 vs 7 as a binary problem: label 0 = "1", label 1 = "7". */
export const onesAndSevens = () => {
  const mnist = loadMnist()
  const keep = Array.from(mnist.y.keys()).filter((i) => mnist.y[i] === 1 || mnist.y[i] === 7)
  const ds = subset(mnist, keep)
  const y = Int32Array.from(ds.y, (l) => (l === 7 ? 1 : 0))
  const { train, test } = stratifiedSplit(y, { testFraction: 0.2, seed: 5, limit: 250 })
  return {
    train: { x: takeRows(ds.x, train), y: Int32Array.from(train, (i) => y[i]!) },
    test: { x: takeRows(ds.x, test), y: Int32Array.from(test, (i) => y[i]!) },
  }
}

/**
 * Perturb 1 and 2 training images within an L∞ box of 0.1 (pixels kept in [0, 1]) against the `count`
 * correct test digits of smallest margin: every outcome stays in the box, every reported flip holds for a
 * model trained from scratch on the poisoned data, each setting flips at least one, and every attack raises
 * its target's loss.
 */
export const checkAttack = async (count: number): Promise<void> => {
  const { train, test } = onesAndSevens()
  const l2 = 0.01
  const eps = 0.1
  const model = unwrap(LogisticRegression.fit(train.x, train.y, { l2, domain: { lower: 0, upper: 1 } })).model
  const z = model.logits(test.x)
  const margins = Array.from({ length: test.x.rows }, (_, i) => (test.y[i] === 1 ? 1 : -1) * z.data[2 * i + 1]!)
  const targets = Array.from(margins.keys()).filter((i) => margins[i]! > 0).sort((a, b) => margins[a]! - margins[b]!).slice(0, count)
  const results = [await run(trainingSetAttack(model, train, test, { epsilon: eps, perturbed: 1, steps: 10, targets })), await run(trainingSetAttack(model, train, test, { epsilon: eps, perturbed: 2, steps: 10, targets }))]
  for (const [i, r] of results.entries()) console.log(`training-set attack, ${i + 1} image(s), ε = ${eps}: ${r.flipped}/${r.attempted} flipped (${r.retrains} retrainings)`)
  for (const r of results) {
    for (const o of r.outcomes) {
      expect(o.linf).toBeLessThanOrEqual(0.1 + 1e-12)
      for (const v of o.images.data) expect(v >= 0 && v <= 1).toBe(true)
      // Each reported flip holds for a model trained from scratch on the poisoned data.
      if (o.flipped) {
        const data = train.x.data.slice()
        o.trainRows.forEach((j, r2) => data.set(o.images.data.subarray(r2 * 784, (r2 + 1) * 784), j * 784))
        const scratch = unwrap(LogisticRegression.fit({ rows: train.x.rows, cols: 784, data }, train.y, { l2: 0.01 })).model
        expect(scratch.logits(takeRows(test.x, [o.testRow])).data[1]! > 0 ? 1 : 0).toBe(o.labelAfter)
      }
    }
  }
  expect(results[0]!.flipped).toBeGreaterThan(0)
  expect(results[1]!.flipped).toBeGreaterThan(0)
  // Every attack raised its target's loss.
  for (const r of results) for (const o of r.outcomes) expect(o.testLossAfter).toBeGreaterThan(o.testLossBefore)
}
