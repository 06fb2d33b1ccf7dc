import * as tf from '@tensorflow/tfjs'
import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { createRng, errorFromThrown, errors, permutation, SondeError, stage, type Matrix, type ProbeError, type RunControl } from '@sonde/oracle'
import { validateTrainingData } from '../linear.js'

/** Options of {@link buildMlp}. */
export interface MlpOptions {
  readonly inputDim: number
  /** Widths of the hidden layers, e.g. `[128]`. */
  readonly hidden: readonly number[]
  readonly numClasses: number
  readonly seed: number
  /** Hidden activation. Default `'relu'`. */
  readonly activation?: 'relu' | 'tanh'
}

/** Options of {@link buildCnn}. */
export interface CnnOptions {
  /** Shape of one image, e.g. `[28, 28, 1]`. */
  readonly inputShape: readonly [number, number, number]
  /** Filters of each 3×3 conv + 2×2 max-pool block. Default `[8, 16]`. */
  readonly filters?: readonly number[]
  /** Width of the dense layer before the output. Default 64. */
  readonly dense?: number
  readonly numClasses: number
  readonly seed: number
}

const seeded = (rng: ReturnType<typeof createRng>) => ({
  kernelInitializer: tf.initializers.glorotUniform({ seed: rng.int(2 ** 31) }),
  biasInitializer: tf.initializers.zeros(),
})

const checkPositive = (values: Record<string, number>): void => {
  for (const [k, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} is ${v}; expected a positive integer`)
  }
}

/**
 * A multilayer perceptron whose output is logits (no softmax layer), seeded: the same seed
 * gives the same initial weights. Wrap it with `fromTfjsModel` from `@sonde/oracle/tfjs`.
 *
 * @example
 * // fragment: loads tfjs (seconds)
 * import { buildMlp } from '@sonde/models/tfjs'
 *
 * const model = buildMlp({ inputDim: 784, hidden: [128], numClasses: 10, seed: 1 })
 */
export const buildMlp = (options: MlpOptions): tf.Sequential => {
  checkPositive({ inputDim: options.inputDim, numClasses: options.numClasses, ...Object.fromEntries(options.hidden.map((h, i) => [`hidden[${i}]`, h])) })
  const rng = createRng(options.seed)
  const layers: tf.layers.Layer[] = options.hidden.map((units, i) =>
    tf.layers.dense({ units, activation: options.activation ?? 'relu', ...(i === 0 ? { inputShape: [options.inputDim] } : {}), ...seeded(rng) }),
  )
  layers.push(
    tf.layers.dense({ units: options.numClasses, ...(options.hidden.length === 0 ? { inputShape: [options.inputDim] } : {}), ...seeded(rng) }),
  )
  return tf.sequential({ layers })
}

/**
 * A small convolutional network for images (conv 3×3 + ReLU + max-pool blocks, a dense layer,
 * logits out), seeded. Its input is the flat row reshaped to `inputShape`.
 *
 * @example
 * // fragment: loads tfjs (seconds)
 * import { buildCnn } from '@sonde/models/tfjs'
 *
 * const cnn = buildCnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 1 })
 */
export const buildCnn = (options: CnnOptions): tf.Sequential => {
  const [h, w, c] = options.inputShape
  checkPositive({ height: h, width: w, channels: c, numClasses: options.numClasses })
  const rng = createRng(options.seed)
  const filters = options.filters ?? [8, 16]
  const layers: tf.layers.Layer[] = [tf.layers.reshape({ inputShape: [h * w * c], targetShape: [h, w, c] })]
  for (const f of filters) {
    layers.push(tf.layers.conv2d({ filters: f, kernelSize: 3, activation: 'relu', padding: 'same', ...seeded(rng) }))
    layers.push(tf.layers.maxPooling2d({ poolSize: 2 }))
  }
  layers.push(tf.layers.flatten())
  layers.push(tf.layers.dense({ units: options.dense ?? 64, activation: 'relu', ...seeded(rng) }))
  layers.push(tf.layers.dense({ units: options.numClasses, ...seeded(rng) }))
  return tf.sequential({ layers })
}

/** Options of {@link trainClassifier}. */
export interface TrainOptions {
  readonly epochs: number
  /** Default 64. */
  readonly batchSize?: number
  /** Adam's learning rate. Default 1e-3. */
  readonly learningRate?: number
  /** Seed of the mini-batch order (the initial weights come from the builder's seed). */
  readonly seed: number
  /** Called after each epoch with the mean training loss. */
  readonly onEpoch?: (epoch: number, loss: number) => void
  /** Stops the training within one mini-batch (`Aborted`; the model keeps the weights it has reached). */
  readonly signal?: AbortSignal
  /** Progress per mini-batch (throttled), under `stage`. */
  readonly progress?: RunControl['progress']
  /** The progress stage's name. Default 'training (mini-batches)'. */
  readonly stage?: string
}

/** What {@link trainClassifier} reports. */
export interface TrainReport {
  /** Mean cross-entropy of each epoch. */
  readonly losses: readonly number[]
  readonly steps: number
}

/**
 * Train a logits-output tfjs model with softmax cross-entropy and Adam, with our own seeded
 * mini-batch order (tfjs's `fit` shuffles with an unseeded global generator), so the same seeds give the same
 * model on the same backend. No tensor is left behind.
 *
 * @example
 * // fragment: loads tfjs and trains (seconds)
 * import { toPromise } from '@sonde/oracle'
 * import { gaussianBlobs } from '@sonde/datasets'
 * import { buildMlp, trainClassifier } from '@sonde/models/tfjs'
 *
 * const { x, y } = gaussianBlobs({ n: 256, dim: 4, classes: 3, seed: 1 })
 * const model = buildMlp({ inputDim: 4, hidden: [16], numClasses: 3, seed: 1 })
 * const report = await toPromise(trainClassifier(model, x, y, { epochs: 3, seed: 1 })) // { losses, steps }
 */
export const trainClassifier = (
  model: tf.LayersModel,
  x: Matrix,
  y: Int32Array,
  options: TrainOptions,
): TE.TaskEither<ProbeError, TrainReport> => {
  const outShape = model.outputs[0]?.shape
  const k = outShape?.[outShape.length - 1] ?? 0
  const inShape = model.inputs[0]?.shape.slice(1) ?? []
  const d = inShape.reduce<number>((a, b) => a * (b ?? Number.NaN), 1)
  const batchSize = options.batchSize ?? 64
  const lr = options.learningRate ?? 1e-3
  return F.pipe(
    validateTrainingData(x, y, d, k),
    E.chain(() => {
      const issues: { path: string; message: string }[] = []
      if (!Number.isInteger(options.epochs) || options.epochs < 1) issues.push({ path: 'options.epochs', message: `is ${options.epochs}; expected a positive integer` })
      if (!Number.isInteger(batchSize) || batchSize < 1) issues.push({ path: 'options.batchSize', message: `is ${batchSize}; expected a positive integer` })
      if (!(lr > 0 && Number.isFinite(lr))) issues.push({ path: 'options.learningRate', message: `is ${lr}; expected a positive finite number` })
      if (!Number.isSafeInteger(options.seed)) issues.push({ path: 'options.seed', message: `is ${String(options.seed)}; expected a safe integer` })
      return issues.length === 0 ? E.right(undefined) : E.left<ProbeError>(errors.invalidOptions(issues))
    }),
    TE.fromEither,
    TE.chain(() =>
      TE.tryCatch(
        async () => {
          const rng = createRng(options.seed)
          const optimizer = tf.train.adam(lr)
          const xs = tf.tensor2d(Float32Array.from(x.data), [x.rows, x.cols])
          const ys = tf.tensor1d(y, 'int32')
          const losses: number[] = []
          const batches = Math.ceil(x.rows / batchSize)
          // One helper for progress and abort, awaited after every mini-batch: an abort is seen within one batch.
          const st = stage({ ...(options.signal !== undefined ? { signal: options.signal } : {}), ...(options.progress !== undefined ? { progress: options.progress } : {}) }, options.stage ?? 'training (mini-batches)', options.epochs * batches)
          let steps = 0
          // A diverged run must not leave NaN weights behind: keep the starting weights to restore.
          const start = model.getWeights().map((w) => w.clone())
          try {
            for (let epoch = 0; epoch < options.epochs; epoch++) {
              const order = permutation(x.rows, rng)
              // The epoch's loss stays on the backend until the epoch ends (one read per epoch, not per batch).
              let total = tf.scalar(0)
              for (let s = 0; s < x.rows; s += batchSize) {
                const ok = await st.tick(steps)
                if (E.isLeft(ok)) {
                  total.dispose()
                  throw new SondeError(ok.left)
                }
                const idx = tf.tensor1d(order.subarray(s, Math.min(x.rows, s + batchSize)), 'int32')
                const batchLoss = tf.tidy(() => {
                  const bx = tf.gather(xs, idx)
                  const by = tf.oneHot(tf.gather(ys, idx), k)
                  const l = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(by, model.apply(bx, { training: true }) as tf.Tensor) as tf.Scalar, true)
                  return tf.mul(l!, idx.shape[0]) as tf.Scalar
                })
                idx.dispose()
                const next: tf.Scalar = tf.add(total, batchLoss)
                total.dispose()
                batchLoss.dispose()
                total = next
                steps++
              }
              const mean = (await total.data())[0]! / x.rows
              total.dispose()
              if (!Number.isFinite(mean)) {
                model.setWeights(start)
                throw new SondeError(errors.trainingFailed(`training diverged: the mean loss of epoch ${epoch + 1} is ${mean}; the model keeps its starting weights (lower options.learningRate)`))
              }
              losses.push(mean)
              options.onEpoch?.(epoch, mean)
            }
            const done = st.check(steps)
            if (E.isLeft(done)) throw new SondeError(done.left)
          } finally {
            xs.dispose()
            ys.dispose()
            optimizer.dispose()
            for (const w of start) w.dispose()
          }
          return { losses, steps }
        },
        (cause): ProbeError => errorFromThrown(cause, (m) => errors.trainingFailed(`training failed: ${m}`, cause)),
      ),
    ),
  )
}

/** A tfjs model as plain data: topology JSON and the weights' bytes. */
export interface ModelArtifacts {
  readonly json: string
  readonly weights: Uint8Array
}

/**
 * Serialise a tfjs LayersModel to plain data (no file system needed); write it wherever you like.
 *
 * @example
 * // fragment: loads tfjs (seconds)
 * import { buildMlp, modelToArtifacts } from '@sonde/models/tfjs'
 *
 * const artifacts = await modelToArtifacts(buildMlp({ inputDim: 4, hidden: [8], numClasses: 3, seed: 1 })) // { json, weights }
 */
export const modelToArtifacts = async (model: tf.LayersModel): Promise<ModelArtifacts> => {
  let saved: ModelArtifacts | undefined
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = a.weightData
      const bytes = data === undefined ? new Uint8Array(0) : new Uint8Array(Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data)
      saved = { json: JSON.stringify({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs }), weights: bytes.slice() }
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } }
    }),
  )
  if (saved === undefined) throw new Error('modelToArtifacts: the save handler was not called')
  return saved
}

/**
 * Load a LayersModel from {@link modelToArtifacts} output.
 *
 * @example
 * // fragment: loads tfjs; artifacts saved earlier
 * import { modelFromArtifacts, type ModelArtifacts } from '@sonde/models/tfjs'
 *
 * declare const artifacts: ModelArtifacts
 * const model = await modelFromArtifacts(artifacts)
 */
export const modelFromArtifacts = async (artifacts: ModelArtifacts): Promise<tf.LayersModel> => {
  const parsed = JSON.parse(artifacts.json) as { modelTopology: object; weightSpecs: tf.io.WeightsManifestEntry[] }
  const buffer = artifacts.weights.buffer.slice(artifacts.weights.byteOffset, artifacts.weights.byteOffset + artifacts.weights.byteLength) as ArrayBuffer
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: parsed.modelTopology, weightSpecs: parsed.weightSpecs, weightData: buffer }))
}
