import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { describeOracleContract } from '../src/testing/index.js'
import { fromTfjsModel } from '../src/tfjs.js'
import { SondeError, toPromise, type Matrix } from '../src/index.js'

// tanh hidden layer: smooth, so central differences are meaningful. Seeded initialisers.
const layersModel = (softmax = false): tf.LayersModel =>
  tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 8, activation: 'tanh', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }), ...(softmax ? { activation: 'softmax' } : {}) }),
    ],
  })

// A GraphModel built from an in-memory GraphDef: x·W + b, then tanh.
const graphModel = async (): Promise<tf.GraphModel> => {
  const w = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i))
  const b = Float32Array.from([0.1, -0.2, 0.3])
  const constant = (name: string, shape: number[]) => ({
    name,
    op: 'Const',
    attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: shape.map((s) => ({ size: String(s) })) } } } },
  })
  const modelTopology = {
    node: [
      { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '4' }] } } } },
      constant('w', [4, 3]),
      constant('b', [3]),
      { name: 'mm', op: 'MatMul', input: ['x', 'w'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
      { name: 'z', op: 'Add', input: ['mm', 'b'], attr: { T: { type: 'DT_FLOAT' } } },
      { name: 'out', op: 'Tanh', input: ['z'], attr: { T: { type: 'DT_FLOAT' } } },
    ],
    versions: { producer: 1 },
  }
  const weightData = new Uint8Array([...new Uint8Array(w.buffer), ...new Uint8Array(b.buffer)]).buffer
  return tf.loadGraphModel(
    tf.io.fromMemory({
      modelTopology,
      weightSpecs: [
        { name: 'w', shape: [4, 3], dtype: 'float32' },
        { name: 'b', shape: [3], dtype: 'float32' },
      ],
      weightData,
    }),
  )
}

// float32 models: h = 1e-2 keeps rounding error (~1e-7/h) and truncation (~h²) both near 1e-4.
const float32 = { finiteDifferenceStep: 1e-2, gradientTolerance: 2e-2 }

describeOracleContract('fromTfjsModel (LayersModel, logits)', () => fromTfjsModel(layersModel(), { output: 'logits' }), float32)
describeOracleContract('fromTfjsModel (LayersModel, probabilities from logits)', () => fromTfjsModel(layersModel(), { output: 'probabilities' }), float32)
describeOracleContract('fromTfjsModel (LayersModel ending in softmax, labels)', () =>
  fromTfjsModel(layersModel(true), { output: 'label', modelOutputs: 'probabilities', domain: { lower: -3, upper: 3 } }),
)
describeOracleContract('fromTfjsModel (GraphModel, logits)', async () => fromTfjsModel(await graphModel(), { output: 'logits', numClasses: 3 }), float32)

describe('fromTfjsModel', () => {
  it('leaks no tensor over a thousand predict and gradient queries', async () => {
    const oracle = fromTfjsModel(layersModel(), { output: 'probabilities' })
    const x: Matrix = { rows: 3, cols: 6, data: Float64Array.from({ length: 18 }, (_, k) => Math.cos(k)) }
    await toPromise(oracle.predict(x))
    await toPromise(oracle.gradient(x, 1))
    const before = tf.memory().numTensors
    for (let i = 0; i < 500; i++) {
      await toPromise(oracle.predict(x))
      await toPromise(oracle.gradient(x, Int32Array.of(0, 1, 2)))
    }
    await oracle.predict({ rows: 1, cols: 5, data: new Float64Array(5) })()
    expect(tf.memory().numTensors).toBe(before)
  })

  it('gives the gradient of each row’s own class', async () => {
    const model = layersModel()
    const oracle = fromTfjsModel(model, { output: 'logits' })
    const x: Matrix = { rows: 2, cols: 6, data: Float64Array.from({ length: 12 }, (_, k) => Math.sin(k)) }
    const mixed = await toPromise(oracle.gradient(x, Int32Array.of(0, 3)))
    const g0 = await toPromise(oracle.gradient(x, 0))
    const g3 = await toPromise(oracle.gradient(x, 3))
    // Same float32 kernels on the same rows: equal to float32 rounding.
    for (let j = 0; j < 6; j++) {
      expect(mixed.data[j]).toBeCloseTo(g0.data[j]!, 6)
      expect(mixed.data[6 + j]).toBeCloseTo(g3.data[6 + j]!, 6)
    }
  })

  it('refuses to reveal logits of a model that outputs probabilities, and needs numClasses when unknown', async () => {
    expect(() => fromTfjsModel(layersModel(true), { output: 'logits', modelOutputs: 'probabilities' })).toThrow(SondeError)
    const gm = await graphModel()
    expect(() => fromTfjsModel(gm, { output: 'logits' })).toThrow(/options.numClasses/)
    expect('gradient' in fromTfjsModel(layersModel(true), { output: 'probabilities', modelOutputs: 'probabilities' })).toBe(false)
  })
})
