import * as tf from '@tensorflow/tfjs'
import { either as E } from 'fp-ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { describeOracleContract } from '@sonde/oracle/testing'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { toPromise } from '@sonde/oracle'
import { buildCnn, buildMlp, modelFromArtifacts, modelToArtifacts, trainClassifier, useFastestBackend } from '../src/tfjs/index.js'
import { blobs } from './data.js'

beforeAll(async () => {
  await useFastestBackend()
})

describeOracleContract(
  'tfjs MLP from buildMlp via fromTfjsModel (wasm)',
  async () => {
    await useFastestBackend()
    return fromTfjsModel(buildMlp({ inputDim: 6, hidden: [16], numClasses: 3, seed: 1, activation: 'tanh' }), { output: 'probabilities' })
  },
  { finiteDifferenceStep: 1e-2, gradientTolerance: 2e-2 },
)

describe('tfjs networks', () => {
  it('selects the wasm backend in Node', async () => {
    expect(await useFastestBackend()).toBe('wasm')
    expect(tf.getBackend()).toBe('wasm')
  })

  it('trains an MLP to high accuracy on separable blobs, reproducibly, leaking no tensor', async () => {
    const { x, y } = blobs(600, 4, 3, 1, 0.4)
    const before = tf.memory().numTensors
    const train = async () => {
      const model = buildMlp({ inputDim: 4, hidden: [16], numClasses: 3, seed: 2 })
      const report = await toPromise(trainClassifier(model, x, y, { epochs: 15, seed: 3, learningRate: 1e-2 }))
      return { model, report }
    }
    const a = await train()
    const b = await train()
    expect(a.report.losses).toEqual(b.report.losses)
    expect(a.report.losses[a.report.losses.length - 1]!).toBeLessThan(a.report.losses[0]!)
    const oracle = fromTfjsModel(a.model, { output: 'label' })
    const p = await toPromise(oracle.predict(x))
    const accuracy = p.labels.reduce((acc, l, i) => acc + (l === y[i] ? 1 : 0), 0) / y.length
    expect(accuracy).toBeGreaterThanOrEqual(0.95)
    const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()))
    expect(weights(a.model)).toEqual(weights(b.model))
    // Only the two models' own variables remain.
    const own = a.model.getWeights().length + b.model.getWeights().length
    expect(tf.memory().numTensors).toBe(before + own)
    a.model.dispose()
    b.model.dispose()
  })

  it('a CNN builds for 28×28 images and takes a training step', async () => {
    const cnn = buildCnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 })
    const n = 32
    const x = { rows: n, cols: 784, data: Float64Array.from({ length: n * 784 }, (_, k) => (k % 13) / 13) }
    const y = Int32Array.from({ length: n }, (_, i) => i % 10)
    const r = await toPromise(trainClassifier(cnn, x, y, { epochs: 1, seed: 1, batchSize: 16 }))
    expect(r.steps).toBe(2)
    const oracle = fromTfjsModel(cnn, { output: 'logits' })
    expect(oracle.info.inputDim).toBe(784)
    expect((await toPromise(oracle.gradient({ rows: 1, cols: 784, data: x.data.slice(0, 784) }, 3))).cols).toBe(784)
    cnn.dispose()
  })

  it('round-trips a model through artifacts', async () => {
    const model = buildMlp({ inputDim: 3, hidden: [4], numClasses: 2, seed: 5 })
    const copy = await modelFromArtifacts(await modelToArtifacts(model))
    const x = tf.tensor2d([[0.1, -0.2, 0.3]])
    const [a, b] = tf.tidy(() => [Array.from((copy.predict(x) as tf.Tensor).dataSync()), Array.from((model.predict(x) as tf.Tensor).dataSync())])
    expect(a).toEqual(b)
    x.dispose()
    model.dispose()
    copy.dispose()
  })

  it('refuses bad training input with typed errors', async () => {
    const model = buildMlp({ inputDim: 3, hidden: [4], numClasses: 2, seed: 5 })
    const x = { rows: 2, cols: 3, data: new Float64Array(6) }
    const wrongWidth = await trainClassifier(model, { rows: 2, cols: 2, data: new Float64Array(4) }, Int32Array.of(0, 1), { epochs: 1, seed: 1 })()
    expect(E.isLeft(wrongWidth) && wrongWidth.left._tag).toBe('ShapeMismatch')
    const badOptions = await trainClassifier(model, x, Int32Array.of(0, 1), { epochs: 0, seed: 1, batchSize: -1 })()
    expect(E.isLeft(badOptions) && badOptions.left._tag === 'InvalidOptions' && badOptions.left.issues.length).toBe(2)
    const badLabel = await trainClassifier(model, x, Int32Array.of(0, 2), { epochs: 1, seed: 1 })()
    expect(E.isLeft(badLabel) && badLabel.left.message).toContain('y[1] is 2')
  })
})

// Inputs that once broke us (a fuzz run against the built packages).
describe('fixtures: trainClassifier', () => {
  it('a diverging run is TrainingFailed and leaves the starting weights, not NaN weights reported as success', async () => {
    await useFastestBackend()
    const x = { rows: 64, cols: 3, data: Float64Array.from({ length: 192 }, (_, k) => 3e38 * (((k * 7919) % 13) - 6)) }
    const y = Int32Array.from({ length: 64 }, (_, i) => i % 2)
    const model = buildMlp({ inputDim: 3, hidden: [4], numClasses: 2, seed: 1 })
    const before = model.getWeights().map((w) => Array.from(w.dataSync()))
    const r = await trainClassifier(model, x, y, { epochs: 2, seed: 1, learningRate: 1e6 })()
    expect(r._tag === 'Left' && r.left._tag).toBe('TrainingFailed')
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before)
    const nan = await trainClassifier(model, x, y, { epochs: 1, seed: 1, learningRate: Number.NaN })()
    expect(nan._tag === 'Left' && nan.left._tag).toBe('InvalidOptions')
    model.dispose()
  })
})
