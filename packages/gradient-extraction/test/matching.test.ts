import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { createRng } from '@sonde/oracle'
import { buildMlp, useFastestBackend } from '@sonde/models'
import { matchingLoss } from '../src/index.js'

beforeAll(async () => {
  await useFastestBackend()
})

describe('matchingLoss (double backprop through the logit gradient)', () => {
  it('its parameter gradient matches central finite differences of the loss', () => {
    const model = buildMlp({ inputDim: 5, hidden: [8], numClasses: 3, seed: 3 })
    const rng = createRng(1)
    const n = 6
    const x = tf.tensor2d(Float32Array.from({ length: n * 5 }, () => rng.normal()), [n, 5])
    const target = tf.tensor2d(Float32Array.from({ length: n * 3 }, () => rng.normal()), [n, 3])
    const mask = tf.oneHot(tf.tensor1d(Int32Array.from({ length: n }, (_, i) => i % 3), 'int32'), 3).toFloat() as tf.Tensor2D
    const g = tf.tensor2d(Float32Array.from({ length: n * 5 }, () => rng.normal()), [n, 5])
    const lossValue = () => tf.tidy(() => matchingLoss(model, x, target, 'logits', 2, mask, g).dataSync()[0]!)
    const { grads } = tf.variableGrads(() => matchingLoss(model, x, target, 'logits', 2, mask, g))
    // The first layer's kernel is where the gradient term's second derivatives live.
    const kernel = model.layers[0]!.getWeights()[0]!
    const variable = Object.values(grads).find((t) => t.shape.join() === kernel.shape.join())!
    const analytic = variable.dataSync()
    const values = kernel.dataSync().slice()
    const h = 1e-2
    let worst = 0
    let scale = 0
    for (const idx of [0, 3, 7, 12, 21, 30, 38]) {
      const set = (v: number) => {
        const next = values.slice()
        next[idx] = v
        const t = tf.tensor(next, kernel.shape)
        model.layers[0]!.setWeights([t, model.layers[0]!.getWeights()[1]!])
        t.dispose()
      }
      set(values[idx]! + h)
      const up = lossValue()
      set(values[idx]! - h)
      const down = lossValue()
      set(values[idx]!)
      const fd = (up - down) / (2 * h)
      worst = Math.max(worst, Math.abs(fd - analytic[idx]!))
      scale = Math.max(scale, Math.abs(fd))
    }
    // float32 loss, h = 1e-2: rounding ~1e-5 and O(h²) truncation; the gradient term is what matters.
    expect(worst).toBeLessThanOrEqual(2e-2 * scale)
    expect(scale).toBeGreaterThan(1e-3)
    tf.dispose([x, target, mask, g, ...Object.values(grads)])
    model.dispose()
  })
})
