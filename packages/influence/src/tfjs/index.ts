/**
 * `@sonde/influence/tfjs`: a frozen tfjs network as the {@link FeatureMap} of the training-set attack
 * (Koh & Liang's frozen Inception features). Needs `@tensorflow/tfjs`; the root entry `@sonde/influence`
 * does not.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs'
import { either as E } from 'fp-ts'
import { errors, type Domain, type Matrix, type ProbeError } from '@sonde/oracle'
import type { FeatureMap } from '../features.js'

/** Options of {@link featureMapFromTfjs}. */
export interface TfjsFeatureMapOptions {
  /**
   * The layer whose output is the features: an index into `model.layers` (negative counts from the end:
   * -2 is the penultimate layer, the usual choice for a classifier) or a layer name. Default: the model's
   * own output.
   */
  readonly layer?: number | string
  /** Rows per tfjs call. Default 256. */
  readonly batchSize?: number
  /** The inputs' domain (e.g. `{ lower: 0, upper: 1 }` for pixels), passed on to the attack. */
  readonly domain?: Domain
}

const product = (shape: readonly (number | null)[]): number => shape.reduce<number>((a, b) => a * (b ?? Number.NaN), 1)

/**
 * A frozen tfjs network (or one of its layers) as a {@link FeatureMap}: `map` runs it in inference mode,
 * `pullback` is one reverse-mode pass, ∇ₓ Σᵢ vᵢ · φ(xᵢ), which is J_φ(xᵢ)ᵀvᵢ row by row because rows are
 * independent in inference mode. float32 inside (tfjs has no float64), Float64Array out. The network's
 * weights are read, never changed; tensors are disposed. `InvalidOptions` for a layer that does not exist or
 * a bad batch size; `InvalidInput` for a model with several inputs or outputs.
 *
 * @example
 * // fragment: loads tfjs (seconds)
 * import { either as E } from 'fp-ts'
 * import { buildCnn } from '@sonde/models/tfjs'
 * import { featureMapFromTfjs } from '@sonde/influence/tfjs'
 * const cnn = buildCnn({ inputShape: [28, 28, 1], numClasses: 8, seed: 1 }) // train it on other classes first
 * const features = featureMapFromTfjs(cnn, { layer: -2, domain: { lower: 0, upper: 1 } })
 * if (E.isRight(features)) console.log(features.right.inputDim, features.right.outputDim) // 784 64
 */
export const featureMapFromTfjs = (model: tf.LayersModel, options: TfjsFeatureMapOptions = {}): E.Either<ProbeError, FeatureMap> => {
  if (model === null || typeof model !== 'object' || !Array.isArray((model as Partial<tf.LayersModel>).inputs) || !Array.isArray((model as Partial<tf.LayersModel>).layers)) {
    return E.left(errors.invalidInput('model is not a tfjs LayersModel', 'model'))
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return E.left(errors.invalidInput(`model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; expected one of each`, 'model'))
  const batchSize = options.batchSize ?? 256
  if (!(Number.isSafeInteger(batchSize) && batchSize >= 1)) return E.left(errors.invalidOptions([{ path: 'options.batchSize', message: `is ${String(batchSize)}; expected an integer ≥ 1` }]))
  const layer = options.layer
  let output: tf.SymbolicTensor
  if (layer === undefined) output = model.outputs[0]!
  else {
    const n = model.layers.length
    const found = typeof layer === 'number' ? (Number.isInteger(layer) && layer >= -n && layer < n ? model.layers[layer < 0 ? n + layer : layer] : undefined) : model.layers.find((l) => l.name === layer)
    if (found === undefined) return E.left(errors.invalidOptions([{ path: 'options.layer', message: `is ${String(layer)}; expected a layer name or an index in ${-n}..${n - 1}` }]))
    const out = found.output
    if (Array.isArray(out)) return E.left(errors.invalidOptions([{ path: 'options.layer', message: `layer ${found.name} has several outputs` }]))
    output = out
  }
  const extractor = output === model.outputs[0] ? model : tf.model({ inputs: model.inputs, outputs: output })
  const inShape = model.inputs[0]!.shape.slice(1).map((s) => s ?? 1)
  const inputDim = product(inShape)
  const outputDim = product(output.shape.slice(1))
  if (!(Number.isSafeInteger(inputDim) && Number.isSafeInteger(outputDim))) return E.left(errors.invalidInput(`the input (${String(model.inputs[0]!.shape)}) or feature (${String(output.shape)}) shape is not fixed`, 'model'))
  const forward = (xs: tf.Tensor): tf.Tensor2D => tf.reshape(extractor.apply(xs, { training: false }) as tf.Tensor, [xs.shape[0]!, outputDim])
  const batch = (x: Matrix, start: number, rows: number): tf.Tensor => tf.tensor(Float32Array.from(x.data.subarray(start * x.cols, (start + rows) * x.cols)), [rows, ...inShape])
  const map = (x: Matrix): Matrix => {
    const out = new Float64Array(x.rows * outputDim)
    for (let s = 0; s < x.rows; s += batchSize) {
      const rows = Math.min(batchSize, x.rows - s)
      out.set(tf.tidy(() => forward(batch(x, s, rows)).dataSync()), s * outputDim)
    }
    return { rows: x.rows, cols: outputDim, data: out }
  }
  const pullback = (x: Matrix, v: Matrix): Matrix => {
    if (v.rows !== x.rows || v.cols !== outputDim) throw new RangeError(`pullback: v is ${v.rows} × ${v.cols}; expected ${x.rows} × ${outputDim}`)
    const out = new Float64Array(x.rows * inputDim)
    for (let s = 0; s < x.rows; s += batchSize) {
      const rows = Math.min(batchSize, x.rows - s)
      const g = tf.tidy(() => {
        const vs = tf.tensor2d(Float32Array.from(v.data.subarray(s * outputDim, (s + rows) * outputDim)), [rows, outputDim])
        return tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(forward(xs), vs)))(batch(x, s, rows)).dataSync()
      })
      out.set(g, s * inputDim)
    }
    return { rows: x.rows, cols: inputDim, data: out }
  }
  return E.right({ inputDim, outputDim, map, pullback, ...(options.domain !== undefined ? { domain: options.domain } : {}) })
}

export type { FeatureMap } from '../features.js'
