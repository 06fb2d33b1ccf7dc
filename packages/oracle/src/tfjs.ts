/**
 * `@sonde/oracle/tfjs`: the adapter for TensorFlow.js models. A separate entry point so that
 * `@sonde/oracle` itself never loads tfjs.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs'
import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { attempt, labelThreshold } from './adapters/function.js'
import { guardGradient, guardPredict } from './adapters/guard.js'
import { errors, SondeError, type OracleError } from './errors.js'
import { labelsFromScores, type Matrix } from './matrix.js'
import type { Domain, GradientOracle, Oracle, OracleInfo, OutputKind, Prediction } from './oracle.js'
import { validateInfo, validateScores } from './validate.js'

/** A tfjs model as this adapter uses it: `tf.LayersModel` and `tf.GraphModel` both fit. */
export type TfjsModel = tf.LayersModel | tf.GraphModel

/** Options of {@link fromTfjsModel}. */
export interface TfjsOracleOptions {
  /** What the oracle reveals. */
  readonly output: OutputKind
  /**
   * What the model's (first) output tensor holds. Default `'logits'`. A model that ends in a
   * softmax (`'probabilities'`) can reveal labels and probabilities but not logits, and
   * answers no gradient queries.
   */
  readonly modelOutputs?: 'logits' | 'probabilities'
  readonly id?: string
  /** Shape of one input; default: the model's input shape without the batch dimension. */
  readonly inputShape?: readonly number[]
  /** Number of classes (columns of the output); default: the model's output shape. A
   * `tf.GraphModel` often does not declare it, and then this is required. */
  readonly numClasses?: number
  readonly domain?: Domain
  readonly classNames?: readonly string[]
}

const shapeOf = (model: TfjsModel, which: 'inputs' | 'outputs'): readonly number[] | undefined =>
  model[which][0]?.shape?.slice(1).map((d) => (d === null || d === undefined || d < 0 ? Number.NaN : d))

// Softmax (or sigmoid, for one column) in float64, stable: subtract the row maximum.
const probabilitiesFromLogits = (z: Matrix): Matrix => {
  const { rows, cols } = z
  const out = new Float64Array(rows * cols)
  if (cols === 1) {
    for (let i = 0; i < rows; i++) out[i] = 1 / (1 + Math.exp(-z.data[i]!))
    return { rows, cols, data: out }
  }
  for (let i = 0; i < rows; i++) {
    let m = -Infinity
    for (let j = 0; j < cols; j++) m = Math.max(m, z.data[i * cols + j]!)
    let s = 0
    for (let j = 0; j < cols; j++) s += out[i * cols + j] = Math.exp(z.data[i * cols + j]! - m)
    for (let j = 0; j < cols; j++) out[i * cols + j]! /= s
  }
  return { rows, cols, data: out }
}

const run = (model: TfjsModel, x: tf.Tensor): tf.Tensor => {
  const y = 'apply' in model ? model.apply(x, { training: false }) : model.predict(x)
  const first = Array.isArray(y) ? y[0] : y
  if (first === undefined || !(first instanceof tf.Tensor)) throw new Error('the model returned no tensor')
  return first as tf.Tensor
}

const readMatrix = async (t: tf.Tensor, rows: number, cols: number): Promise<Matrix> => {
  try {
    const values = await t.data()
    return { rows, cols, data: Float64Array.from(values) }
  } finally {
    t.dispose()
  }
}

/**
 * Wrap a TensorFlow.js model (`tf.LayersModel` or `tf.GraphModel`) as an oracle that reveals
 * labels, probabilities or logits. With `modelOutputs: 'logits'` (the default) it is a
 * {@link GradientOracle}: gradients of the chosen logit through `tf.grad`.
 *
 * Queries go in as float32 (tfjs has no float64) and answers come back as float64; probabilities
 * are computed from the logits in float64. Every tensor is disposed: the number of live tensors
 * is the same before and after any number of queries. The backend is whatever tfjs has set;
 * `@sonde/models` selects the fastest one.
 *
 * @example
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 })] })
 * const oracle = fromTfjsModel(model, { output: 'probabilities', id: 'tfjs:iris' })
 */
export function fromTfjsModel(
  model: TfjsModel,
  options: TfjsOracleOptions & { readonly modelOutputs?: 'logits' },
): GradientOracle
export function fromTfjsModel(model: TfjsModel, options: TfjsOracleOptions): Oracle
export function fromTfjsModel(model: TfjsModel, options: TfjsOracleOptions): Oracle {
  const modelOutputs = options.modelOutputs ?? 'logits'
  const inputShape = options.inputShape ?? shapeOf(model, 'inputs') ?? []
  const outShape = shapeOf(model, 'outputs')
  const numClasses = options.numClasses ?? outShape?.[outShape.length - 1] ?? Number.NaN
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new SondeError(
      errors.invalidInput(`the model does not declare its number of classes (output shape ${JSON.stringify(outShape)}); pass options.numClasses`, 'options.numClasses'),
    )
  }
  if (inputShape.length === 0 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new SondeError(
      errors.invalidInput(`the model's input shape [${inputShape.join(', ')}] is not fully known; pass options.inputShape`, 'options.inputShape'),
    )
  }
  if (modelOutputs === 'probabilities' && options.output === 'logits') {
    throw new SondeError(
      errors.missingCapability('logits', options.id ?? 'tfjs', "the model outputs probabilities; use output 'probabilities' or 'label'"),
    )
  }
  const inputDim = inputShape.reduce((a, b) => a * b, 1)
  const info: OracleInfo = {
    id: options.id ?? `tfjs:${'name' in model && typeof model.name === 'string' ? model.name : 'model'}`,
    inputDim,
    inputShape,
    numClasses,
    output: options.output,
    ...(options.domain !== undefined ? { domain: options.domain } : {}),
    ...(options.classNames !== undefined ? { classNames: options.classNames } : {}),
  }
  const checked = validateInfo(info)
  if (E.isLeft(checked)) throw new SondeError(checked.left)

  const toTensor = (x: Matrix): tf.Tensor => tf.tensor(Float32Array.from(x.data), [x.rows, ...inputShape])

  const reveal = (raw: Matrix): E.Either<OracleError, Prediction> => {
    const scores = modelOutputs === 'logits' && options.output === 'probabilities' ? probabilitiesFromLogits(raw) : raw
    return F.pipe(
      validateScores(info, raw.rows, scores),
      E.map((s) => {
        const threshold = modelOutputs === 'logits' ? 0 : labelThreshold({ ...info, output: 'probabilities' })
        const labels = labelsFromScores(raw, threshold)
        return options.output === 'label' ? { labels } : { labels, scores: s }
      }),
    )
  }

  const predict = guardPredict(info, (q) =>
    F.pipe(
      attempt(`the tfjs model '${info.id}'`, () => readMatrix(tf.tidy(() => run(model, toTensor(q))), q.rows, numClasses)),
      TE.chainEitherK(reveal),
    ),
  )
  if (modelOutputs !== 'logits') return { info, predict }

  const gradient = guardGradient(info, (q, c) =>
    attempt(`the gradient of tfjs model '${info.id}'`, () =>
      readMatrix(
        tf.tidy(() => {
          // Rows are independent, so the gradient of Σᵢ logit[i, cls[i]] is each row's own gradient.
          const mask = tf.oneHot(tf.tensor1d(c, 'int32'), numClasses).reshape([q.rows, numClasses])
          const total = (input: tf.Tensor): tf.Scalar => tf.sum(tf.mul(run(model, input).reshape([q.rows, numClasses]), mask))
          return tf.grad(total)(toTensor(q))
        }),
        q.rows,
        inputDim,
      ),
    ),
  )
  const oracle: GradientOracle = { info, predict, gradient }
  return oracle
}
