import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, it } from 'vitest'
import { createRng, toPromise, type Matrix } from '@sonde/oracle'
import { expectSeeded } from '@sonde/oracle/testing'
import { LogisticRegression, randomTwoLayerRelu, SoftmaxRegression } from '../src/index.js'
import { buildCnn, buildMlp, trainClassifier, useFastestBackend } from '../src/tfjs/index.js'

beforeAll(async () => {
  await useFastestBackend()
})

const weightsOf = (model: tf.LayersModel): Float32Array[] => model.getWeights().map((w) => w.dataSync() as Float32Array)

// The determinism tier: every stochastic public function, twice with one seed → bit-identical, another seed → different.
describe('determinism: @sonde/models', () => {
  it('LogisticRegression.random and SoftmaxRegression.random', async () => {
    await expectSeeded((seed) => {
      const l = LogisticRegression.random(6, seed)
      const s = SoftmaxRegression.random(6, 3, seed)
      return [l.weights, l.bias, s.weights.data, s.bias]
    })
  })

  it('randomTwoLayerRelu', async () => {
    await expectSeeded((seed) => {
      const net = randomTwoLayerRelu({ inputDim: 8, hidden: 4, numClasses: 2, seed })
      return [net.hiddenWeights.data, net.hiddenBias]
    })
  })

  it('buildMlp and buildCnn initial weights', async () => {
    await expectSeeded((seed) => {
      const mlp = buildMlp({ inputDim: 6, hidden: [5], numClasses: 3, seed })
      const cnn = buildCnn({ inputShape: [8, 8, 1], numClasses: 3, seed })
      const out = [weightsOf(mlp), weightsOf(cnn)]
      mlp.dispose()
      cnn.dispose()
      return out
    })
  })

  it('trainClassifier: the mini-batch order (fixed initial weights, seeded training)', async () => {
    const rng = createRng(4)
    const x: Matrix = { rows: 96, cols: 6, data: Float64Array.from({ length: 96 * 6 }, () => rng.normal()) }
    const y = Int32Array.from({ length: 96 }, (_, i) => (x.data[6 * i]! > 0 ? 1 : 0) + (x.data[6 * i + 1]! > 0 ? 1 : 0))
    await expectSeeded(async (seed) => {
      const mlp = buildMlp({ inputDim: 6, hidden: [5], numClasses: 3, seed: 1 })
      const report = await toPromise(trainClassifier(mlp, x, y, { epochs: 2, batchSize: 16, seed }))
      const out = [report.losses, weightsOf(mlp)]
      mlp.dispose()
      return out
    })
  })
})
