import * as tf from '@tensorflow/tfjs'
import { taskEither as TE, function as F } from 'fp-ts'
import { createRng, errorFromThrown, errors, meter, permutation, type GradientOracle, type Matrix, type ProbeError } from '@sonde/oracle'
import { fromTfjsModel } from '@sonde/oracle/tfjs'
import { buildMlp } from '@sonde/models/tfjs'

/** What the copy is fitted to besides the gradients. */
export type MatchTarget = 'logits' | 'labels'

/** Options of {@link gradientMatchingCopy}. */
export interface GradientMatchingOptions {
  /** Pool rows to query (the first `queries` of a seeded shuffle). Default: the whole pool. */
  readonly queries?: number
  /** Fit the oracle's logits (MSE; needs an oracle that reveals logits) or its labels (cross-entropy). Default 'logits'. */
  readonly fit?: MatchTarget
  /**
   * Weight λ of the gradient term λ·mean‖∇ₓ logit_c(copy) − ∇ₓ logit_c(oracle)‖², c = the oracle's label.
   * 0 turns gradient matching off (and spends no gradient queries). Default 1.
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
  readonly seed: number
}

/** A trained copy and what it cost. */
export interface GradientMatchingResult {
  /** The copy as an oracle (labels, probabilities or logits like the original; logit gradients). */
  readonly copy: GradientOracle
  /** The copy as a tfjs model (dispose it when done). */
  readonly model: tf.LayersModel
  readonly queries: { readonly gradientRows: number; readonly valueRows: number }
  /** Training loss after each epoch. */
  readonly losses: readonly number[]
  readonly seed: number
}

/**
 * The training loss of a gradient-matching copy on one batch: the fit term (MSE to the oracle's
 * logits, or cross-entropy to its labels) plus λ·mean‖∇ₓ z_c(copy) − g_c‖² over the batch, where
 * ∇ₓ z_c(copy) comes from `tf.grad` inside the loss (double backprop through a ReLU network's
 * *logit*, which tfjs differentiates correctly — unlike gradients through softmax).
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
 * Copy a classifier from queries that return values *and* gradient explanations: query `queries`
 * points of `pool`, then train a tfjs MLP to match the oracle's logits (or labels) and its logit
 * gradients at those points (Milli et al. 2018, §5). With `lambda: 0` it is plain copying from
 * logits or labels, the baseline gradient matching is measured against.
 *
 * Seeded: the same seed, pool and oracle give the same copy on the same backend.
 *
 * @example
 * const r = await toPromise(gradientMatchingCopy(explanationApi, unlabelledDigits, { queries: 50, seed: 1 }))
 * r.queries // { valueRows: 50, gradientRows: 50 }
 */
export const gradientMatchingCopy = (
  oracle: GradientOracle,
  pool: Matrix,
  options: GradientMatchingOptions,
): TE.TaskEither<ProbeError, GradientMatchingResult> => {
  const { info } = oracle
  const fit = options.fit ?? 'logits'
  const lambda = options.lambda ?? 1
  const n = options.queries ?? pool.rows
  const epochs = options.epochs ?? 300
  const lr = options.learningRate ?? 3e-3
  const batchSize = options.batchSize ?? 64
  const issues: { path: string; message: string }[] = []
  if (!(Number.isInteger(n) && n >= 1 && n <= pool.rows)) issues.push({ path: 'options.queries', message: `is ${n}; expected an integer in 1..${pool.rows} (the pool's rows)` })
  if (!(lambda >= 0 && Number.isFinite(lambda))) issues.push({ path: 'options.lambda', message: `is ${lambda}; expected a finite number ≥ 0` })
  if (!(Number.isInteger(epochs) && epochs >= 1)) issues.push({ path: 'options.epochs', message: `is ${epochs}; expected a positive integer` })
  if (!(lr > 0)) issues.push({ path: 'options.learningRate', message: `is ${lr}; expected a positive number` })
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) issues.push({ path: 'options.batchSize', message: `is ${batchSize}; expected a positive integer` })
  if (!(lr > 0 && Number.isFinite(lr))) issues.push({ path: 'options.learningRate', message: `is ${lr}; expected a positive finite number` })
  if (!Number.isSafeInteger(options.seed)) issues.push({ path: 'options.seed', message: `is ${typeof options.seed === 'string' ? JSON.stringify(options.seed) : String(options.seed)}; expected a safe integer` })
  if (issues.length > 0) return TE.left(errors.invalidOptions(issues))
  if (pool.cols !== info.inputDim) return TE.left(errors.shapeMismatch('pool', `${info.inputDim} columns`, `${pool.cols} columns`))
  if (fit === 'logits' && info.output !== 'logits') return TE.left(errors.missingCapability('logits', info.id, "fit: 'logits' needs an oracle that reveals logits; use fit: 'labels'"))
  if (info.numClasses < 2) return TE.left(errors.invalidInput('gradientMatchingCopy needs an oracle with at least 2 classes', 'oracle.info.numClasses'))

  const k = info.numClasses
  const d = info.inputDim
  const rng = createRng(options.seed)
  const order = permutation(pool.rows, rng).subarray(0, n)
  const x: Matrix = { rows: n, cols: d, data: new Float64Array(n * d) }
  order.forEach((r, i) => x.data.set(pool.data.subarray(r * d, (r + 1) * d), i * d))
  const counted = meter(oracle)

  return F.pipe(
    counted.predict(x),
    TE.chain((p) =>
      F.pipe(
        lambda === 0 ? TE.right<ProbeError, Matrix | undefined>(undefined) : counted.gradient(x, p.labels),
        TE.map((g) => ({ p, g })),
      ),
    ),
    TE.chain(({ p, g }) =>
      TE.tryCatch(
        async () => {
          const model = buildMlp({ inputDim: d, hidden: options.hidden ?? [64], numClasses: k, seed: options.seed })
          const optimizer = tf.train.adam(lr)
          const xs = tf.tensor2d(Float32Array.from(x.data), [n, d])
          const target = fit === 'logits' ? tf.tensor2d(Float32Array.from(p.scores!.data), [n, k]) : tf.oneHot(tf.tensor1d(p.labels, 'int32'), k).toFloat() as tf.Tensor2D
          const mask = tf.oneHot(tf.tensor1d(p.labels, 'int32'), k).toFloat() as tf.Tensor2D
          const grads = g === undefined ? undefined : tf.tensor2d(Float32Array.from(g.data), [n, d])
          const losses: number[] = []
          try {
            for (let epoch = 0; epoch < epochs; epoch++) {
              const perm = permutation(n, rng)
              let total = 0
              for (let s = 0; s < n; s += batchSize) {
                const idx = tf.tensor1d(perm.subarray(s, Math.min(n, s + batchSize)), 'int32')
                const cost = tf.tidy(() =>
                  optimizer.minimize(
                    () =>
                      matchingLoss(
                        model,
                        tf.gather(xs, idx),
                        tf.gather(target, idx),
                        fit,
                        lambda,
                        tf.gather(mask, idx),
                        grads === undefined ? undefined : tf.gather(grads, idx),
                      ),
                    true,
                  )!,
                )
                total += (await cost.data())[0]! * idx.shape[0]
                cost.dispose()
                idx.dispose()
              }
              losses.push(total / n)
            }
          } finally {
            tf.dispose([xs, target, mask, ...(grads === undefined ? [] : [grads])])
            optimizer.dispose()
          }
          const usage = counted.usage()
          const copy = fromTfjsModel(model, {
            output: info.output,
            id: `copy:${info.id}`,
            ...(info.domain !== undefined ? { domain: info.domain } : {}),
          })
          return { copy, model, queries: { gradientRows: usage.gradientRows, valueRows: usage.predictRows }, losses, seed: options.seed }
        },
        (cause): ProbeError => errorFromThrown(cause, (m) => errors.trainingFailed(`training the copy failed: ${m}`, cause)),
      ),
    ),
  )
}

