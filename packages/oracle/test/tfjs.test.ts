import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { describeOracleContract } from '../src/testing/index.js'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fromTfjsModel, loadTfjsModel } from '../src/tfjs.js'
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

  it('refuses to reveal logits it cannot find, answers no gradient then, and needs numClasses when unknown', async () => {
    const gm = await graphModel()
    expect(() => fromTfjsModel(gm, { output: 'logits', modelOutputs: 'probabilities', numClasses: 3 })).toThrow(SondeError)
    expect('gradient' in fromTfjsModel(gm, { output: 'probabilities', modelOutputs: 'probabilities', numClasses: 3 })).toBe(false)
    expect(() => fromTfjsModel(gm, { output: 'logits' })).toThrow(/options.numClasses/)
  })
})

// Keras-style heads: a final dense softmax, a separate softmax layer, a one-unit sigmoid.
const softmaxLayerModel = (): tf.LayersModel =>
  tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 8, activation: 'tanh', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotNormal({ seed: 2 }) }),
      tf.layers.softmax(),
    ],
  })
const sigmoidModel = (): tf.LayersModel =>
  tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [6], units: 8, activation: 'tanh', kernelInitializer: tf.initializers.glorotNormal({ seed: 1 }) }),
      tf.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) }),
    ],
  })

describeOracleContract('fromTfjsModel (dense softmax head, logits from the pre-activation)', () => fromTfjsModel(layersModel(true), { output: 'logits' }), float32)
describeOracleContract('fromTfjsModel (dense softmax head, its own probabilities)', () => fromTfjsModel(layersModel(true), { output: 'probabilities' }), float32)
describeOracleContract('fromTfjsModel (softmax layer head)', () => fromTfjsModel(softmaxLayerModel(), { output: 'probabilities' }), float32)
describeOracleContract('fromTfjsModel (one-unit sigmoid head)', () => fromTfjsModel(sigmoidModel(), { output: 'logits' }), float32)

describe('fromTfjsModel on a model that ends in a softmax or sigmoid', () => {
  const x: Matrix = { rows: 3, cols: 6, data: Float64Array.from({ length: 18 }, (_, k) => 3 * Math.sin(k)) }
  const modelSays = (m: tf.LayersModel): Float32Array => tf.tidy(() => (m.predict(tf.tensor2d(Float32Array.from(x.data), [3, 6])) as tf.Tensor).dataSync() as Float32Array)

  it.each([
    ['dense softmax', () => layersModel(true)],
    ['softmax layer', softmaxLayerModel],
    ['sigmoid', sigmoidModel],
  ] as const)('%s: reveals the model’s own probabilities (no second softmax), and its logits give them back', async (_, make) => {
    // Was: softmax applied a second time — the model said [0.9993, 0.0007, 1e-14], the oracle [0.576, 0.212, 0.212].
    const model = make()
    const own = modelSays(model)
    const probabilities = await toPromise(fromTfjsModel(model, { output: 'probabilities' }).predict(x))
    Array.from(own).forEach((v, k) => expect(Math.abs(probabilities.scores!.data[k]! - v)).toBeLessThanOrEqual(1e-7))
    const logits = (await toPromise(fromTfjsModel(model, { output: 'logits' }).predict(x))).scores!
    // softmax (or sigmoid) of the pre-activation is the model's output, to float32 rounding.
    for (let i = 0; i < 3; i++) {
      const z = Array.from(logits.data.subarray(i * logits.cols, (i + 1) * logits.cols))
      const p = z.length === 1 ? [1 / (1 + Math.exp(-z[0]!))] : z.map((v) => Math.exp(v - Math.max(...z))).map((e, _j, all) => e / all.reduce((a2, b2) => a2 + b2, 0))
      p.forEach((v, j) => expect(Math.abs(v - own[i * logits.cols + j]!)).toBeLessThanOrEqual(1e-5))
    }
  })
})

// A model saved by tfjs itself: `model.save` hands its artifacts to a handler that writes model.json and
// weights.bin exactly as tfjs's own file:// handler lays them out.
const saveToDisk = async (model: tf.LayersModel): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), 'sonde-tfjs-'))
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer))
      const json = { modelTopology: artifacts.modelTopology, format: artifacts.format, generatedBy: artifacts.generatedBy, convertedBy: artifacts.convertedBy ?? null, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json))
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    }),
  )
  return join(dir, 'model.json')
}

const saved = await saveToDisk(layersModel(true))
describeOracleContract('loadTfjsModel (a saved softmax model, probabilities)', async () => toPromise(loadTfjsModel(saved)), float32)

describe('loadTfjsModel', () => {
  it('answers exactly as the model it was saved from', async () => {
    const original = layersModel(true)
    const path = await saveToDisk(original)
    const x: Matrix = { rows: 4, cols: 6, data: Float64Array.from({ length: 24 }, (_, k) => Math.cos(k)) }
    const a = await toPromise(fromTfjsModel(original, { output: 'logits' }).predict(x))
    const loaded = await toPromise(loadTfjsModel(path, { output: 'logits' }))
    const b = await toPromise(loaded.predict(x))
    expect(Array.from(b.scores!.data)).toEqual(Array.from(a.scores!.data))
    expect('gradient' in loaded).toBe(true)
  })

  it('a missing file, a file that is not a model and short weights are InvalidInput, not throws', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sonde-bad-'))
    writeFileSync(join(dir, 'not-a-model.json'), JSON.stringify({ hello: 1 }))
    const path = await saveToDisk(layersModel())
    writeFileSync(join(dirname(path), 'weights.bin'), new Uint8Array(8))
    for (const p of [join(dir, 'missing.json'), join(dir, 'not-a-model.json'), path]) {
      const r = await loadTfjsModel(p)()
      expect(r._tag === 'Left' && r.left._tag).toBe('InvalidInput')
    }
  })
})
