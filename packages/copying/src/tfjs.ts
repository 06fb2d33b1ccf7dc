/**
 * `@sonde/copying/tfjs`: the tfjs copy family, {@link mlpCopy}. Needs `@tensorflow/tfjs` (an optional peer
 * dependency; `@tensorflow/tfjs-backend-wasm` for the fast Node backend). The root entry `@sonde/copying`
 * needs neither: its copies are float64 softmax regression and CART trees.
 *
 * @packageDocumentation
 */
import * as tf from '@tensorflow/tfjs'
import { either as E } from 'fp-ts'
import { errorFromThrown, errors, type Matrix, type ProbeError, type RunControl } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp, trainClassifier } from '@sonde/models/tfjs'
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
 * Softmax cross-entropy and Adam with a seeded mini-batch order: `@sonde/models`' `trainClassifier`, which
 * awaits its progress/abort check after every mini-batch (an abort is seen within one batch) and restores the
 * starting weights if the loss diverges.
 */
const train = async (
  model: tf.LayersModel,
  x: Matrix,
  y: Int32Array,
  o: Required<Omit<MlpCopyOptions, 'hidden'>>,
  seed: number,
  control: RunControl | undefined,
): Promise<E.Either<ProbeError, readonly number[]>> => {
  const r = await trainClassifier(model, x, y, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    learningRate: o.learningRate,
    seed,
    stage: 'training mlp (mini-batches)',
    ...(control?.signal !== undefined ? { signal: control.signal } : {}),
    ...(control?.progress !== undefined ? { progress: control.progress } : {}),
  })()
  if (E.isLeft(r)) {
    return r.left._tag === 'TrainingFailed' ? E.left(errors.trainingFailed(`training the MLP copy failed: ${r.left.message} (options.copy.learningRate)`, r.left)) : r
  }
  return E.right(r.right.losses)
}

/**
 * A tfjs ReLU MLP as the copy (seeded initialisation and mini-batch order; the same seeds give the same
 * copy on the same backend). Reports progress per mini-batch (throttled) and stops within one mini-batch
 * of an abort. Call `trained.dispose()` when done with the copy.
 *
 * @example
 * // fragment: loads tfjs (seconds)
 * import { mlpCopy } from '@sonde/copying/tfjs'
 *
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
    let losses: E.Either<ProbeError, readonly number[]>
    try {
      losses = await train(model, x, y, { epochs: o?.epochs ?? 10, learningRate: o?.learningRate ?? 1e-3, batchSize: o?.batchSize ?? 64 }, seed, control)
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
