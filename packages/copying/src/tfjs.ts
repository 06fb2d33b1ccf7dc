/**
 * `@sonde/copying/tfjs`: the tfjs copy family, {@link mlpCopy}. Needs `@tensorflow/tfjs` (an optional peer
 * dependency; `@tensorflow/tfjs-backend-wasm` for the fast Node backend). The root entry `@sonde/copying`
 * needs neither: its copies are float64 softmax regression and CART trees.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs'
import { either as E } from 'fp-ts'
import { createRng, errorFromThrown, errors, permutation, stage, type Matrix, type ProbeError, type RunControl } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp } from '@sonde/models/tfjs'
import { intAtLeast, positive, type OptionIssue } from './check.js'
import type { CopyFamily, TrainedCopy } from './families.js'

/** Options of {@link mlpCopy}. */
export interface MlpCopyOptions {
  /** Widths of the hidden layers. Default `[128]`. */
  readonly hidden?: readonly number[]
  /** Passes over the synthetic set. Default 10. */
  readonly epochs?: number
  /** Adam's learning rate. Default 1e-3. */
  readonly learningRate?: number
  /** Rows per Adam step. Default 64. */
  readonly batchSize?: number
}

const checkMlp = (o: MlpCopyOptions): OptionIssue[] => {
  const issues: OptionIssue[] = []
  if (o.hidden !== undefined) {
    if (!Array.isArray(o.hidden)) issues.push({ path: 'options.copy.hidden', message: `is ${String(o.hidden)}; expected an array of layer widths` })
    else o.hidden.forEach((h, i) => issues.push(...intAtLeast(h, 1, `options.copy.hidden[${i}]`)))
  }
  return [...issues, ...intAtLeast(o.epochs, 1, 'options.copy.epochs'), ...positive(o.learningRate, 'options.copy.learningRate'), ...intAtLeast(o.batchSize, 1, 'options.copy.batchSize')]
}

/**
 * Softmax cross-entropy and Adam with a seeded mini-batch order, awaiting the stage's tick after every
 * mini-batch so that an abort is seen within one batch (and the event loop runs ~every 50 ms).
 */
const train = async (
  model: tf.LayersModel,
  x: Matrix,
  y: Int32Array,
  k: number,
  o: Required<Omit<MlpCopyOptions, 'hidden'>>,
  seed: number,
  control: RunControl | undefined,
): Promise<E.Either<ProbeError, number[]>> => {
  const rng = createRng(seed)
  const optimizer = tf.train.adam(o.learningRate)
  const xs = tf.tensor2d(Float32Array.from(x.data), [x.rows, x.cols])
  const ys = tf.tensor1d(y, 'int32')
  const batches = Math.ceil(x.rows / o.batchSize)
  const s = stage(control, 'training mlp (mini-batches)', o.epochs * batches)
  const losses: number[] = []
  const start = model.getWeights().map((w) => w.clone())
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = permutation(x.rows, rng)
      // The epoch's loss stays on the backend until the epoch ends (one read per epoch, not per batch).
      let total = tf.scalar(0)
      for (let b = 0; b < batches; b++) {
        const ok = await s.tick(epoch * batches + b)
        if (E.isLeft(ok)) {
          total.dispose()
          return ok
        }
        const idx = tf.tensor1d(order.subarray(b * o.batchSize, Math.min(x.rows, (b + 1) * o.batchSize)), 'int32')
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
      }
      const mean = (await total.data())[0]! / x.rows
      total.dispose()
      if (!Number.isFinite(mean)) {
        model.setWeights(start)
        return E.left(errors.trainingFailed(`training the MLP copy diverged: the mean loss of epoch ${epoch + 1} is ${mean}; lower options.copy.learningRate`))
      }
      losses.push(mean)
    }
    const done = s.check(o.epochs * batches)
    return E.isLeft(done) ? done : E.right(losses)
  } finally {
    xs.dispose()
    ys.dispose()
    optimizer.dispose()
    for (const w of start) w.dispose()
  }
}

/**
 * A tfjs ReLU MLP as the copy (seeded initialisation and mini-batch order; the same seeds give the same
 * copy on the same backend). Reports progress per mini-batch (throttled) and stops within one mini-batch
 * of an abort. Call `trained.dispose()` when done with the copy.
 *
 * @example
 * import { mlpCopy } from '@sonde/copying/tfjs'
 * const family = mlpCopy({ hidden: [128], epochs: 10 })
 */
export const mlpCopy = (o: MlpCopyOptions = {}): CopyFamily => ({
  name: 'mlp',
  check: () => checkMlp(o ?? {}),
  fit: (x, y, info, seed, control) => async () => {
    const k = Math.max(info.numClasses, 2)
    let model: tf.Sequential
    try {
      model = buildMlp({ inputDim: info.inputDim, hidden: o?.hidden ?? [128], numClasses: k, seed })
    } catch (cause) {
      return E.left(errorFromThrown(cause, (m) => errors.invalidOptions([{ path: 'options.copy', message: m }])))
    }
    let losses: E.Either<ProbeError, number[]>
    try {
      losses = await train(model, x, y, k, { epochs: o?.epochs ?? 10, learningRate: o?.learningRate ?? 1e-3, batchSize: o?.batchSize ?? 64 }, seed, control)
    } catch (cause) {
      losses = E.left(errorFromThrown(cause, (m) => errors.trainingFailed(`training the MLP copy failed: ${m}`, cause)))
    }
    if (E.isLeft(losses)) {
      model.dispose()
      return losses
    }
    const oracle = fromTfjsModel(model, { output: 'probabilities', id: `copy:mlp:${info.id}`, ...(info.domain !== undefined ? { domain: info.domain } : {}) })
    const trained: TrainedCopy = {
      oracle,
      model,
      details: { epochs: losses.right.length, finalLoss: losses.right[losses.right.length - 1]! },
      dispose: () => model.dispose(),
    }
    return E.right(trained)
  },
})
