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
import { errors, isOracleError, SondeError, type OracleError } from './errors.js'
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
   * What the model's (first) output tensor holds. Default: read from a `tf.LayersModel`'s last layer —
   * a softmax (or a one-unit sigmoid), as a `dense` activation or as its own layer, means
   * `'probabilities'`, and the layer's pre-activation gives the logits (so the oracle reveals the model's
   * own probabilities, its logits, and logit gradients). A `tf.GraphModel` cannot be read: declare it;
   * undeclared, it is taken as `'logits'`. Declared `'probabilities'` with no logits the adapter can
   * find: labels and probabilities only, and no gradient queries.
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

/**
 * What a LayersModel's head is: logits, or probabilities with a way to the logits before them — the
 * input of a final softmax/sigmoid layer, or the pre-activation of a final dense layer.
 */
type Head = { readonly outputs: 'logits' } | { readonly outputs: 'probabilities'; readonly logits?: (x: tf.Tensor) => tf.Tensor }

const squashing = (activation: unknown, units: number | undefined): boolean => activation === 'softmax' || (activation === 'sigmoid' && units === 1)

const readHead = (model: TfjsModel): Head => {
  if (!('layers' in model) || model.layers.length === 0) return { outputs: 'logits' }
  const last = model.layers[model.layers.length - 1]!
  const config = last.getConfig() as { readonly activation?: unknown; readonly units?: number; readonly useBias?: boolean }
  const className = last.getClassName()
  const before = (): tf.LayersModel | undefined => {
    try {
      const input = last.input
      return Array.isArray(input) ? undefined : tf.model({ inputs: model.inputs, outputs: input })
    } catch {
      return undefined
    }
  }
  const units = (model.outputs[0]?.shape ?? []).at(-1) ?? undefined
  if (className === 'Softmax' || (className === 'Activation' && squashing(config.activation, units ?? undefined))) {
    const sub = before()
    return sub === undefined ? { outputs: 'probabilities' } : { outputs: 'probabilities', logits: (x) => sub.apply(x, { training: false }) as tf.Tensor }
  }
  if (className === 'Dense' && squashing(config.activation, config.units)) {
    const sub = before()
    const [kernel, bias] = last.getWeights()
    if (sub === undefined || kernel === undefined) return { outputs: 'probabilities' }
    return {
      outputs: 'probabilities',
      logits: (x) => {
        const z = tf.matMul(sub.apply(x, { training: false }) as tf.Tensor2D, kernel as tf.Tensor2D)
        return config.useBias !== false && bias !== undefined ? tf.add(z, bias) : z
      },
    }
  }
  return { outputs: 'logits' }
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
 * // fragment: needs @tensorflow/tfjs (slow to load)
 * import * as tf from '@tensorflow/tfjs'
 * import { fromTfjsModel } from '@sonde/oracle/tfjs'
 *
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] })
 * const oracle = fromTfjsModel(model, { output: 'probabilities', id: 'tfjs:iris' }) // probabilities, logits from the pre-activation
 */
export function fromTfjsModel(
  model: TfjsModel,
  options: TfjsOracleOptions & { readonly modelOutputs?: 'logits' },
): GradientOracle
export function fromTfjsModel(model: TfjsModel, options: TfjsOracleOptions): Oracle
export function fromTfjsModel(model: TfjsModel, options: TfjsOracleOptions): Oracle {
  const head: Head = options.modelOutputs === 'logits' ? { outputs: 'logits' } : options.modelOutputs === 'probabilities' ? { ...readHead(model), outputs: 'probabilities' } : readHead(model)
  const modelOutputs = head.outputs
  // The logits, when the model's output is not already them: the pre-activation found in its head.
  const logitsOf = modelOutputs === 'logits' ? (x: tf.Tensor) => run(model, x) : head.outputs === 'probabilities' ? head.logits : undefined
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
  if (logitsOf === undefined && options.modelOutputs === undefined) {
    // Undeclared, the oracle is typed as answering gradients: say so now rather than silently answer none.
    throw new SondeError(
      errors.missingCapability('logits', options.id ?? 'tfjs', "the model ends in a softmax or sigmoid whose input cannot be read (several inputs to that layer); declare modelOutputs: 'probabilities' to use it without gradients"),
    )
  }
  if (logitsOf === undefined && options.output === 'logits') {
    throw new SondeError(
      errors.missingCapability('logits', options.id ?? 'tfjs', "the model outputs probabilities and its logits cannot be found (not a LayersModel ending in a softmax or sigmoid); use output 'probabilities' or 'label'"),
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

  // Logits are read from the pre-activation when asked for; otherwise the model's own output is revealed.
  const fromLogits = options.output === 'logits' && modelOutputs === 'probabilities'
  const predict = guardPredict(info, (q) =>
    F.pipe(
      attempt(`the tfjs model '${info.id}'`, () => readMatrix(tf.tidy(() => (fromLogits ? logitsOf!(toTensor(q)) : run(model, toTensor(q)))), q.rows, numClasses)),
      TE.chainEitherK((raw) => (fromLogits ? F.pipe(validateScores(info, raw.rows, raw), E.map((s): Prediction => ({ labels: labelsFromScores(s, 0), scores: s }))) : reveal(raw))),
    ),
  )
  if (logitsOf === undefined) return { info, predict }
  const logitsFn = logitsOf

  const gradient = guardGradient(info, (q, c) =>
    attempt(`the gradient of tfjs model '${info.id}'`, () =>
      readMatrix(
        tf.tidy(() => {
          // Rows are independent, so the gradient of Σᵢ logit[i, cls[i]] is each row's own gradient.
          // tf.oneHot needs a depth ≥ 2: a one-logit model's mask is all ones.
          const mask = numClasses === 1 ? tf.ones([q.rows, 1]) : tf.oneHot(tf.tensor1d(c, 'int32'), numClasses).reshape([q.rows, numClasses])
          const total = (input: tf.Tensor): tf.Scalar => tf.sum(tf.mul(logitsFn(input).reshape([q.rows, numClasses]), mask))
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

/** Options of {@link loadTfjsModel}: those of {@link fromTfjsModel}, with `output` defaulting to `'probabilities'`. */
export type LoadTfjsModelOptions = Omit<TfjsOracleOptions, 'output'> & { readonly output?: OutputKind }

interface SavedModelJson {
  readonly modelTopology?: unknown
  readonly format?: string
  readonly weightsManifest?: ReadonlyArray<{ readonly paths: readonly string[]; readonly weights: tf.io.WeightsManifestEntry[] }>
}

/**
 * Load a model saved by TensorFlow.js (`model.json` and its weight files, as `model.save('file://…')` or the
 * converter writes them) from disk in Node, and wrap it with {@link fromTfjsModel}. Layers models and graph
 * models both load; the files are read with Node's `fs` (tfjs-node, whose `file://` handler this replaces,
 * does not install everywhere).
 *
 * Errors are values: a missing or unreadable file, JSON that is not a tfjs model, weights of the wrong size,
 * or a model the adapter cannot describe give `InvalidInput` naming the path.
 *
 * @example
 * // fragment: needs a saved tfjs model (model.json and its weights) on disk
 * import { toPromise } from '@sonde/oracle'
 * import { loadTfjsModel } from '@sonde/oracle/tfjs'
 *
 * const oracle = await toPromise(loadTfjsModel('models/mnist/model.json', { domain: { lower: 0, upper: 1 } }))
 */
export const loadTfjsModel = (path: string, options: LoadTfjsModelOptions = {}): TE.TaskEither<OracleError, Oracle> =>
  TE.tryCatch(
    async () => {
      const fs = await import('node:fs/promises')
      const { dirname, join } = await import('node:path')
      const json = JSON.parse(await fs.readFile(path, 'utf8')) as SavedModelJson
      if (json === null || typeof json !== 'object' || json.modelTopology === undefined || !Array.isArray(json.weightsManifest)) {
        throw new SondeError(errors.invalidInput(`${path} is not a TensorFlow.js model.json (no modelTopology or weightsManifest)`, 'path'))
      }
      const weightSpecs = json.weightsManifest.flatMap((g) => g.weights)
      const parts = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => fs.readFile(join(dirname(path), p))))
      const bytes = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0))
      let offset = 0
      for (const p of parts) {
        bytes.set(p, offset)
        offset += p.byteLength
      }
      const expected = weightSpecs.reduce((a, w) => a + w.shape.reduce((x: number, y: number) => x * y, 1) * (w.dtype === 'float32' || w.dtype === 'int32' ? 4 : w.dtype === 'bool' ? 1 : 4), 0)
      if (weightSpecs.every((w) => w.quantization === undefined) && expected !== bytes.byteLength) {
        throw new SondeError(errors.invalidInput(`the weight files of ${path} hold ${bytes.byteLength} bytes; its weightsManifest needs ${expected}`, 'path'))
      }
      const handler = tf.io.fromMemory({ modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'], weightSpecs, weightData: bytes.buffer })
      const model: TfjsModel = json.format === 'graph-model' ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler)
      return fromTfjsModel(model, { ...options, output: options.output ?? 'probabilities', id: options.id ?? `tfjs:${path}` })
    },
    (cause) =>
      cause instanceof SondeError && isOracleError(cause.error)
        ? cause.error
        : errors.invalidInput(`could not load the TensorFlow.js model at ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, 'path'),
  )
