import { beforeAll, describe, expect, it } from 'vitest'
import { takeRows, toPromise } from '@sonde/oracle'
import { buildMlp, differentiableNetwork, trainClassifier, useFastestBackend } from '@sonde/models/tfjs'
import { gaussianBlobs } from '@sonde/datasets'
import { influenceOnTest, validateAgainstRetraining } from '../src/index.js'
import { run, unwrap } from './helpers.js'

beforeAll(async () => {
  await useFastestBackend()
})

// The same check as network.slow.test.ts (14×14 digits, p = 2,080) on a small problem: the algorithm —
// float32 finite-difference HVPs, damping, a warm-started Newton–CG refit — is what is tested, not the scale.
describe('a small tfjs MLP with damping (Koh & Liang’s non-convex check)', () => {
  it('predicted vs actual leave-one-out change (warm-started retraining) over the 20 most influential points: Pearson ≥ 0.8', async () => {
    const ds = gaussianBlobs({ n: 130, dim: 5, classes: 3, spread: 1.6, seed: 2 })
    const train = { x: takeRows(ds.x, Array.from({ length: 120 }, (_, i) => i)), y: ds.y.slice(0, 120) }
    const test = { x: takeRows(ds.x, [125]), y: ds.y.slice(125, 126) }
    const mlp = buildMlp({ inputDim: 5, hidden: [6], numClasses: 3, seed: 4, activation: 'tanh' })
    await toPromise(trainClassifier(mlp, train.x, train.y, { epochs: 100, seed: 4, learningRate: 1e-2 }))
    // Polish to a stationary point of the regularised objective, as the influence derivation assumes;
    // float32 gradients put the floor of ‖∇F‖ near 1e-5, so retraining stops at 3e-5.
    const net = unwrap(differentiableNetwork(mlp, { l2: 0.01, damping: 0.01 }).refit(train.x, train.y, { tol: 1e-5, maxIter: 300 })).model
    const infl = await run(influenceOnTest(net, train, test, { method: 'cg', tolerance: 1e-6 }))
    const check = await run(validateAgainstRetraining(net, train, test, infl, { count: 20, fit: { tol: 3e-5 } }))
    console.log(`small tfjs MLP (p = ${net.numParams}, n = ${train.x.rows}, damping 0.01): Pearson ${check.pearson.toFixed(3)} over the top 20`)
    expect(check.pearson).toBeGreaterThanOrEqual(0.8)
  })
})
