import * as tf from '@tensorflow/tfjs'
import { either as E, taskEither as TE } from 'fp-ts'
import {
  checkSignal,
  createRng,
  decodeWith,
  errorFromThrown,
  errors,
  hasGradients,
  permutation,
  randomQueries,
  schemas,
  stage,
  type GradientOracle,
  type Matrix,
  type Oracle,
  type ProbeError,
  type QueryUsage,
  type RunControl,
} from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp } from '@sonde/models/tfjs'
import { checked, checkOracle, guarded } from '../boundary.js'
import { controlFrom, decodeOptions, matchingFunctionSchema } from '../options.js'

/** What the copy is fitted to besides the gradients. */
export type MatchTarget = 'logits' | 'labels'

/** Options of {@link gradientMatchingCopy}. */
export interface GradientMatchingOptions extends RunControl {
  /**
   * Points to query (was `queries`): each costs one value row and, with `lambda > 0`, one gradient row. With a
   * pool, the first `budget` rows of a seeded shuffle (default: the whole pool); without one, `budget` points
   * drawn from the oracle's domain with the seed (default 100).
   */
  readonly budget?: number
  /** Fit the oracle's logits (MSE; needs an oracle that reveals logits) or its labels (cross-entropy). Default 'logits'. */
  readonly fit?: MatchTarget
  /**
   * Weight λ of the gradient term λ·mean‖∇ₓ logit_c(copy) − ∇ₓ logit_c(oracle)‖², c = the oracle's label.
   * 0 turns gradient matching off (and spends no gradient queries; the oracle then needs none). Default 1.
   */
  readonly lambda?: number
  /** Hidden widths of the copy (a ReLU MLP with logits out). Default [64]. */
  readonly hidden?: readonly number[]
  /** Full passes over the queried points. Default 300. */
  readonly epochs?: number
  /** Adam's learning rate. Default 3e-3. */
  readonly learningRate?: number
  /** Default 64. */
  readonly batchSize?: number
  /** The seed of the points drawn or shuffled and of the copy's initialisation and batches (a safe integer). */
  readonly seed: number
}

/** A trained copy and what it cost. */
export interface GradientMatchingResult {
  /** The copy as an oracle (labels, probabilities or logits like the original; logit gradients). */
  readonly copy: GradientOracle
  /** The copy as a tfjs model (dispose it when done). */
  readonly model: tf.LayersModel
  /** What was asked of the oracle: `predictRows` = `budget`, `gradientRows` = `budget` (0 with `lambda: 0`). */
  readonly queries: QueryUsage
  /** The points queried, in the order they were queried. */
  readonly points: Matrix
  /** Where the points came from: pool rows, or random points of the oracle's domain. */
  readonly source: 'pool' | 'domain'
  /** Training loss after each epoch. */
  readonly losses: readonly number[]
  readonly seed: number
}

/**
 * The training loss of a gradient-matching copy on one batch: the fit term (MSE to the oracle's
 * logits, or cross-entropy to its labels) plus λ·mean‖∇ₓ z_c(copy) − g_c‖² over the batch, where
 * ∇ₓ z_c(copy) comes from `tf.grad` inside the loss (double backprop through a ReLU network's
 * *logit*, which tfjs differentiates correctly — unlike gradients through softmax).
  *
  * @example
  * // fragment: loads tfjs; a copy being trained and one batch of the oracle's answers
  * import * as tf from '@tensorflow/tfjs'
  * import { matchingLoss } from '@sonde/gradient-extraction/tfjs'
  *
  * declare const copy: tf.LayersModel
  * declare const x: tf.Tensor2D, logits: tf.Tensor2D // the batch and the oracle's logits on it
  * const loss = tf.tidy(() => matchingLoss(copy, x, logits, 'logits', 0)) // λ = 0: the fit term alone
  */
export const matchingLoss = (
  model: tf.LayersModel,
  x: tf.Tensor2D,
  target: tf.Tensor2D,
  fit: MatchTarget,
  lambda: number,
  classMask?: tf.Tensor2D,
  gradients?: tf.Tensor2D,
): tf.Scalar => {
  const z = model.apply(x, { training: true }) as tf.Tensor2D
  const fitLoss: tf.Scalar = fit === 'logits' ? tf.losses.meanSquaredError(target, z) : (tf.losses.softmaxCrossEntropy(target, z) as tf.Scalar)
  if (lambda === 0 || classMask === undefined || gradients === undefined) return fitLoss
  const inputGradient = tf.grad((inp: tf.Tensor) => tf.sum(tf.mul(model.apply(inp, { training: true }) as tf.Tensor, classMask)))(x)
  const mismatch = tf.mean(tf.sum(tf.square(tf.sub(inputGradient, gradients)), 1))
  return tf.add(fitLoss, tf.mul(mismatch, lambda))
}

/**
 * Copy a classifier from queries that return values *and* gradient explanations: query `budget`
 * points (of `pool`, or drawn from the oracle's domain without one), then train a tfjs MLP to match the
 * oracle's logits (or labels) and its logit gradients at those points (Milli et al. 2018, §5). With
 * `lambda: 0` it is plain copying from logits or labels, the baseline gradient matching is measured against.
 *
 * Every option and the pool are checked before the first query; progress is reported once after the queries
 * and per epoch (`'training'`), and `signal` is checked between the queries and inside the training loop.
 * Seeded: the same seed, pool and oracle give the same copy on the same backend. A non-finite loss is
 * `TrainingFailed` (the copy is disposed).
 *
 * @example
 * // fragment: loads tfjs; an explanation API and unlabelled inputs
 * import { toPromise, type GradientOracle, type Matrix } from '@sonde/oracle'
 * import { gradientMatchingCopy } from '@sonde/gradient-extraction/tfjs'
 *
 * declare const explanationApi: GradientOracle
 * declare const unlabelledDigits: Matrix
 * const r = await toPromise(gradientMatchingCopy(explanationApi, unlabelledDigits, { budget: 50, seed: 1 }))
 * const { queries } = r // { predictRows: 50, gradientRows: 50, calls: 2, cacheHits: 0 }
 */
export const gradientMatchingCopy = (oracle: Oracle, pool: Matrix | undefined, options: GradientMatchingOptions): TE.TaskEither<ProbeError, GradientMatchingResult> =>
  guarded('gradientMatchingCopy', async () => {
    const decoded = decodeOptions(matchingFunctionSchema, options)
    if (E.isLeft(decoded)) return decoded
    const o = decoded.right
    const ok = checkOracle(oracle, false)
    if (E.isLeft(ok)) return ok
    const { info } = oracle
    let given: Matrix | undefined
    if (pool !== undefined) {
      const p = decodeWith(schemas.matrix({ cols: info.inputDim, description: 'the pool' }), pool, 'pool')
      if (E.isLeft(p)) return p
      given = p.right
    }
    const n = o.budget ?? given?.rows ?? 100
    if (given !== undefined && n > given.rows) {
      return E.left(errors.invalidOptions([{ path: 'options.budget', message: `is ${n}; the pool has only ${given.rows} rows` }]))
    }
    const { fit, lambda, epochs, learningRate: lr, batchSize } = o
    if (fit === 'logits' && info.output !== 'logits') return E.left(errors.missingCapability('logits', info.id, "fit: 'logits' needs an oracle that reveals logits; use fit: 'labels'"))
    if (info.numClasses < 2) return E.left(errors.invalidInput('gradientMatchingCopy needs an oracle with at least 2 classes', 'oracle.info.numClasses'))
    if (lambda > 0 && !hasGradients(oracle)) return E.left(errors.missingCapability('gradients', info.id, 'gradient matching (lambda > 0) reads gradient explanations; use lambda: 0 to copy from values alone'))
    const control = controlFrom(o)
    const before = checkSignal(control.signal, 'gradientMatchingCopy')
    if (E.isLeft(before)) return before

    const k = info.numClasses
    const d = info.inputDim
    const rng = createRng(o.seed)
    let x: Matrix
    if (given !== undefined) {
      const order = permutation(given.rows, rng).subarray(0, n)
      x = { rows: n, cols: d, data: new Float64Array(n * d) }
      const src = given.data
      order.forEach((r, i) => x.data.set(src.subarray(r * d, (r + 1) * d), i * d))
    } else {
      x = randomQueries(info, n, rng)
    }
    const q = checked(oracle)
    const querying = stage(control, 'querying', lambda === 0 ? 1 : 2)
    const p = await q.predict(x)
    if (E.isLeft(p)) return p
    const afterValues = querying.check(1)
    if (E.isLeft(afterValues)) return afterValues
    let g: Matrix | undefined
    if (lambda > 0) {
      const gr = await q.gradient(x, p.right.labels)
      if (E.isLeft(gr)) return gr
      g = gr.right
      const afterGradients = querying.check(2)
      if (E.isLeft(afterGradients)) return afterGradients
    }
    const queries = q.usage()
    const labels = p.right.labels
    const scores = p.right.scores

    const model = buildMlp({ inputDim: d, hidden: [...o.hidden], numClasses: k, seed: o.seed })
    const optimizer = tf.train.adam(lr)
    const xs = tf.tensor2d(Float32Array.from(x.data), [n, d])
    const target = fit === 'logits' ? tf.tensor2d(Float32Array.from(scores!.data), [n, k]) : (tf.oneHot(tf.tensor1d(labels, 'int32'), k).toFloat() as tf.Tensor2D)
    const mask = tf.oneHot(tf.tensor1d(labels, 'int32'), k).toFloat() as tf.Tensor2D
    const grads = g === undefined ? undefined : tf.tensor2d(Float32Array.from(g.data), [n, d])
    const losses: number[] = []
    const training = stage(control, 'training', epochs)
    let failure: ProbeError | undefined
    try {
      for (let epoch = 0; epoch < epochs && failure === undefined; epoch++) {
        const tick = await training.tick(epoch)
        if (E.isLeft(tick)) {
          failure = tick.left
          break
        }
        const perm = permutation(n, rng)
        let total = 0
        for (let s = 0; s < n; s += batchSize) {
          if (s > 0) {
            // Inside a long epoch too: an abort is seen within one batch.
            const inner = await training.tick(epoch)
            if (E.isLeft(inner)) {
              failure = inner.left
              break
            }
          }
          const idx = tf.tensor1d(perm.subarray(s, Math.min(n, s + batchSize)), 'int32')
          const cost = tf.tidy(
            () =>
              optimizer.minimize(
                () => matchingLoss(model, tf.gather(xs, idx), tf.gather(target, idx), fit, lambda, tf.gather(mask, idx), grads === undefined ? undefined : tf.gather(grads, idx)),
                true,
              )!,
          )
          total += (await cost.data())[0]! * idx.shape[0]
          cost.dispose()
          idx.dispose()
        }
        if (failure !== undefined) break
        const loss = total / n
        if (!Number.isFinite(loss)) failure = errors.trainingFailed(`training the copy failed: the loss is ${loss} after epoch ${epoch + 1} (try a smaller learningRate or lambda)`)
        else losses.push(loss)
      }
      if (failure === undefined) training.check(epochs)
    } catch (cause) {
      failure = errorFromThrown(cause, (m) => errors.trainingFailed(`training the copy failed: ${m}`, cause))
    } finally {
      tf.dispose([xs, target, mask, ...(grads === undefined ? [] : [grads])])
      optimizer.dispose()
    }
    if (failure !== undefined) {
      model.dispose()
      return E.left(failure)
    }
    const copy = fromTfjsModel(model, { output: info.output, id: `copy:${info.id}`, ...(info.domain !== undefined ? { domain: info.domain } : {}) })
    return E.right({ copy, model, queries, points: x, source: given !== undefined ? ('pool' as const) : ('domain' as const), losses, seed: o.seed })
  })
