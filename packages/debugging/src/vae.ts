import * as tf from '@tensorflow/tfjs'
import { either as E, taskEither as TE } from 'fp-ts'
import { createRng, errorFromThrown, errors, noQueries, permutation, SondeError, stage, type Matrix, type ProbeError, type QueryUsage, type RunControl } from '@sonde/oracle'
import { matrixProblem, show } from './checks.js'

/**
 * A generative model with a latent space: what the identification stage searches. Bring your
 * own (any encoder/decoder pair) or train one with {@link trainVae}.
 */
export interface Generator {
  readonly latentDim: number
  /** Latent means of the rows of x: n × latentDim. */
  readonly encode: (x: Matrix) => Matrix
  /** Decoded rows for latent codes z: n × inputDim (for images, pixel intensities in [0, 1]). */
  readonly decode: (z: Matrix) => Matrix
}

/** Options of {@link trainVae}. */
export interface VaeOptions extends RunControl {
  /** Latent dimension. Default 8. */
  readonly latentDim?: number
  /** `'mlp'` (default; images or tabular rows) or `'conv'` (a small conv encoder/decoder; `imageShape` required, sides divisible by 4). */
  readonly architecture?: 'mlp' | 'conv'
  /** `[height, width, channels]` of an image row, for `'conv'`. */
  readonly imageShape?: readonly [number, number, number]
  /** Hidden widths of the MLP encoder (mirrored in the decoder). Default `[256]`. */
  readonly hidden?: readonly number[]
  /**
   * `'bernoulli'` (default; inputs in [0, 1], e.g. pixels: cross-entropy reconstruction, decoded
   * through a sigmoid) or `'gaussian'` (tabular, standardised inputs: squared error, linear output).
   */
  readonly likelihood?: 'bernoulli' | 'gaussian'
  /** β of the β-VAE: the weight of the KL term. Default 1. */
  readonly beta?: number
  readonly epochs: number
  /** Default 64. */
  readonly batchSize?: number
  /** Adam step. Default 1e-3. */
  readonly learningRate?: number
  /** Seeds the initial weights, the batch order and the reparameterisation noise (required: a safe integer). */
  readonly seed: number
  /**
   * Called after each epoch with its mean loss. A throw from it ends training with `PluginFailed`.
   * For progress, prefer `progress` (a `'vae epochs'` event at least once per epoch).
   */
  readonly onEpoch?: (epoch: number, loss: number) => void
}

/** A trained VAE: a {@link Generator} plus its tfjs parts. Call `dispose()` when done. */
export interface Vae extends Generator {
  readonly encoder: tf.LayersModel
  readonly decoder: tf.LayersModel
  /** Mean loss (reconstruction + β·KL, per row) after each epoch. */
  readonly losses: readonly number[]
  /** No oracle is queried to train a VAE: always zero, for the shared result contract. */
  readonly queries: QueryUsage
  /** The seed it was trained with. */
  readonly seed: number
  readonly dispose: () => void
}

/** Thrown inside the training loop to leave it with a typed error; caught by the one tryCatch around it. */
class Stop extends Error {
  constructor(readonly error: ProbeError) {
    super(error.message)
  }
}

const seeded = (seed: number) => ({
  kernelInitializer: tf.initializers.glorotUniform({ seed }),
  biasInitializer: tf.initializers.zeros(),
})

const buildParts = (d: number, o: Required<Pick<VaeOptions, 'latentDim' | 'hidden' | 'architecture'>> & { readonly imageShape?: readonly [number, number, number] }, next: () => number) => {
  const { latentDim: k, hidden } = o
  if (o.architecture === 'conv') {
    const [h, w, c] = o.imageShape!
    const encoder = tf.sequential({
      layers: [
        tf.layers.reshape({ targetShape: [h, w, c], inputShape: [d] }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...seeded(next()) }),
        tf.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...seeded(next()) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 * k, ...seeded(next()) }),
      ],
    })
    const decoder = tf.sequential({
      layers: [
        tf.layers.dense({ units: (h / 4) * (w / 4) * 32, activation: 'relu', inputShape: [k], ...seeded(next()) }),
        tf.layers.reshape({ targetShape: [h / 4, w / 4, 32] }),
        tf.layers.conv2dTranspose({ filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', ...seeded(next()) }),
        tf.layers.conv2dTranspose({ filters: c, kernelSize: 3, strides: 2, padding: 'same', ...seeded(next()) }),
        tf.layers.flatten(),
      ],
    })
    return { encoder, decoder }
  }
  const encoder = tf.sequential()
  hidden.forEach((u, i) => encoder.add(tf.layers.dense({ units: u, activation: 'relu', ...(i === 0 ? { inputShape: [d] } : {}), ...seeded(next()) })))
  encoder.add(tf.layers.dense({ units: 2 * k, ...(hidden.length === 0 ? { inputShape: [d] } : {}), ...seeded(next()) }))
  const decoder = tf.sequential()
  ;[...hidden].reverse().forEach((u, i) => decoder.add(tf.layers.dense({ units: u, activation: 'relu', ...(i === 0 ? { inputShape: [k] } : {}), ...seeded(next()) })))
  decoder.add(tf.layers.dense({ units: d, ...(hidden.length === 0 ? { inputShape: [k] } : {}), ...seeded(next()) }))
  return { encoder, decoder }
}

/** Copy a 2-D tensor out as a Matrix and dispose it. */
const toMatrix = (t: tf.Tensor): Matrix => {
  const [rows, cols] = t.shape as [number, number]
  const data = Float64Array.from(t.dataSync())
  t.dispose()
  return { rows, cols, data }
}

/**
 * Train a β-VAE on the rows of `data` (tfjs, Adam, our own seeded batch order and noise):
 * an MLP or small conv encoder giving latent means and log-variances, a mirrored decoder,
 * loss = reconstruction + β·KL(q(z|x) ‖ N(0, I)) per row. The result is a {@link Generator}:
 * `encode` gives latent means, `decode` pixel intensities (or values, for `'gaussian'`).
 *
 * Long work: progress (`'vae epochs'`, counted in batches) at least once per epoch and about every
 * 100 ms; an abort (`options.signal`) stops it between batches with `Aborted`, and the half-trained
 * parts are disposed. No oracle is queried (`queries` is zero).
 *
 * @example
 * // fragment: trains a tfjs VAE (seconds to minutes)
 * import { toPromise, type Matrix } from '@sonde/oracle'
 * import { trainVae } from '@sonde/debugging'
 *
 * declare const digits: Matrix // one image per row, values in [0, 1]
 * const vae = await toPromise(trainVae(digits, { latentDim: 8, epochs: 20, seed: 1 }))
 * const z = vae.encode(digits) // latent means, rows × 8
 * const back = vae.decode(z) // reconstructions, rows × 784
 */
export const trainVae = (data: Matrix, options: VaeOptions): TE.TaskEither<ProbeError, Vae> => {
  if (options === null || typeof options !== 'object') return TE.left(errors.invalidOptions([{ path: 'options', message: `is ${show(options)}; expected an object with epochs and seed` }]))
  const k = options.latentDim ?? 8
  const architecture = options.architecture ?? 'mlp'
  const hidden = options.hidden ?? [256]
  const likelihood = options.likelihood ?? 'bernoulli'
  const beta = options.beta ?? 1
  const batchSize = options.batchSize ?? 64
  const lr = options.learningRate ?? 1e-3
  const issues: Array<{ path: string; message: string }> = []
  const notMatrix = matrixProblem(data, 'data', { minRows: 1 })
  const d = notMatrix === undefined ? data.cols : 0
  if (!(Number.isInteger(k) && k >= 1)) issues.push({ path: 'options.latentDim', message: `is ${k}; expected an integer ≥ 1` })
  if (!(Number.isInteger(options.epochs) && options.epochs >= 1)) issues.push({ path: 'options.epochs', message: `is ${options.epochs}; expected an integer ≥ 1` })
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) issues.push({ path: 'options.batchSize', message: `is ${batchSize}; expected an integer ≥ 1` })
  if (!(beta >= 0)) issues.push({ path: 'options.beta', message: `is ${beta}; expected a number ≥ 0` })
  if (!(lr > 0)) issues.push({ path: 'options.learningRate', message: `is ${lr}; expected a positive number` })
  if (architecture !== 'mlp' && architecture !== 'conv') issues.push({ path: 'options.architecture', message: `is ${String(architecture)}; expected 'mlp' or 'conv'` })
  if (architecture === 'conv') {
    const s = options.imageShape
    if (!Array.isArray(s) || s.length !== 3 || s[0] * s[1] * s[2] !== d || s[0] % 4 !== 0 || s[1] % 4 !== 0) {
      issues.push({ path: 'options.imageShape', message: `is ${JSON.stringify(s)}; 'conv' needs [h, w, c] with h·w·c = ${d} and h, w divisible by 4` })
    }
  }
  if (!(Number.isFinite(beta) && Number.isFinite(lr))) issues.push({ path: 'options.beta', message: 'beta and learningRate must be finite' })
  if (likelihood !== 'bernoulli' && likelihood !== 'gaussian') issues.push({ path: 'options.likelihood', message: `is ${show(likelihood)}; expected 'bernoulli' or 'gaussian'` })
  if (options.onEpoch !== undefined && typeof options.onEpoch !== 'function') issues.push({ path: 'options.onEpoch', message: 'expected a function' })
  if (!Array.isArray(hidden)) issues.push({ path: 'options.hidden', message: `is ${show(hidden)}; expected an array of widths` })
  else if (hidden.some((u) => !(Number.isInteger(u) && u >= 1))) issues.push({ path: 'options.hidden', message: 'widths must be positive integers' })
  if (!Number.isSafeInteger(options.seed)) issues.push({ path: 'options.seed', message: `is ${typeof options.seed === 'string' ? JSON.stringify(options.seed) : String(options.seed)}; expected a safe integer` })
  if (issues.length > 0) return TE.left(errors.invalidOptions(issues))
  if (notMatrix !== undefined) return TE.left(notMatrix)
  for (let q = 0; q < data.data.length; q++) {
    const v = data.data[q]!
    if (!Number.isFinite(v) || (likelihood === 'bernoulli' && (v < 0 || v > 1))) {
      return TE.left(errors.invalidInput(`data[${Math.floor(q / d)}][${q % d}] is ${v}; expected a finite number${likelihood === 'bernoulli' ? ' in [0, 1] (or use likelihood: gaussian)' : ''}`, 'data'))
    }
  }
  return TE.tryCatch(
    async () => {
      const rng = createRng(options.seed)
      const { encoder, decoder } = buildParts(d, { latentDim: k, hidden, architecture, ...(options.imageShape !== undefined ? { imageShape: options.imageShape } : {}) }, () => rng.int(2 ** 31))
      const optimizer = tf.train.adam(lr)
      const xs = tf.tensor2d(Float32Array.from(data.data), [data.rows, d])
      const losses: number[] = []
      const lossOf = (bx: tf.Tensor2D, noiseSeed: number): tf.Scalar => {
        const h = encoder.apply(bx, { training: true }) as tf.Tensor2D
        const mu = h.slice([0, 0], [-1, k])
        const logvar = h.slice([0, k], [-1, k])
        const eps = tf.randomNormal(mu.shape, 0, 1, 'float32', noiseSeed)
        const z = mu.add(eps.mul(logvar.mul(0.5).exp()))
        const out = decoder.apply(z, { training: true }) as tf.Tensor2D
        const recon =
          likelihood === 'bernoulli'
            ? tf.sum(tf.sub(tf.relu(out), out.mul(bx)).add(tf.log1p(tf.exp(tf.neg(tf.abs(out))))), 1) // sigmoid cross-entropy with logits
            : tf.sum(tf.square(out.sub(bx)), 1).mul(0.5)
        const kl = tf.sum(tf.exp(logvar).add(mu.square()).sub(1).sub(logvar), 1).mul(0.5)
        return tf.mean(recon.add(kl.mul(beta))) as tf.Scalar
      }
      const batches = Math.ceil(data.rows / batchSize)
      const progress = stage(options, 'vae epochs', options.epochs * batches)
      const dispose = () => {
        encoder.dispose()
        decoder.dispose()
      }
      try {
        for (let epoch = 0; epoch < options.epochs; epoch++) {
          const order = permutation(data.rows, rng)
          let total = 0
          for (let s = 0; s < data.rows; s += batchSize) {
            // Between batches: report, yield to the event loop now and then, and stop on an abort.
            const ok = await progress.tick(epoch * batches + s / batchSize)
            if (E.isLeft(ok)) throw new Stop(ok.left)
            const idx = tf.tensor1d(order.subarray(s, Math.min(data.rows, s + batchSize)), 'int32')
            const noiseSeed = rng.int(2 ** 31)
            const l = tf.tidy(() => {
              const bx = tf.gather(xs, idx) as tf.Tensor2D
              return optimizer.minimize(() => lossOf(bx, noiseSeed), true)!
            })
            total += l.dataSync()[0]! * idx.shape[0]
            l.dispose()
            idx.dispose()
          }
          const mean = total / data.rows
          if (!Number.isFinite(mean)) throw new SondeError(errors.trainingFailed(`VAE training: the loss is ${mean} after epoch ${epoch + 1}; lower options.learningRate`))
          losses.push(mean)
          progress.check((epoch + 1) * batches)
          if (options.onEpoch !== undefined) {
            try {
              options.onEpoch(epoch, mean)
            } catch (cause) {
              throw new Stop(errorFromThrown(cause, (m) => errors.pluginFailed('options.onEpoch', `threw: ${m}`, cause)))
            }
          }
        }
      } catch (e) {
        dispose()
        throw e
      } finally {
        xs.dispose()
        optimizer.dispose()
      }
      const check = (m: Matrix, cols: number, what: string): void => {
        if (m.cols !== cols || m.data.length !== m.rows * cols) throw new RangeError(`${what}: rows must have ${cols} values; got ${m.rows}×${m.cols}`)
      }
      const vae: Vae = {
        latentDim: k,
        encoder,
        decoder,
        losses,
        queries: noQueries,
        seed: options.seed,
        encode: (x) => {
          check(x, d, 'encode')
          const t = tf.tidy(() => (encoder.predict(tf.tensor2d(Float32Array.from(x.data), [x.rows, d])) as tf.Tensor2D).slice([0, 0], [-1, k]))
          return toMatrix(t)
        },
        decode: (z) => {
          check(z, k, 'decode')
          const t = tf.tidy(() => {
            const out = decoder.predict(tf.tensor2d(Float32Array.from(z.data), [z.rows, k])) as tf.Tensor2D
            return likelihood === 'bernoulli' ? tf.sigmoid(out) : out
          })
          return toMatrix(t)
        },
        dispose,
      }
      return vae
    },
    (cause): ProbeError =>
      cause instanceof Stop ? cause.error : errorFromThrown(cause, (m) => errors.trainingFailed(`VAE training failed: ${m}`, cause)),
  )
}

