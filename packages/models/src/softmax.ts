import type { either as E, taskEither as TE } from 'fp-ts'
import { createRng, type Matrix, type ProbeError, type RunControl } from '@sonde/oracle'
import * as glm from './glm.js'
import { fitGlm, fitGlmTask, isMatrixShaped, LinearClassifier, type FitOptions, type Fitted, type LinearOracleOptions } from './linear.js'

/** The parameters of a softmax model: logits z = W x + b, W is K × D. */
export interface SoftmaxParams {
  readonly weights: Matrix
  readonly bias: Float64Array
}

// Read before the data are validated (the fit validates them): junk gives a size that validation refuses.
const classesIn = (y: unknown): number => (y instanceof Int32Array ? y.reduce((a, b) => Math.max(a, b), 1) + 1 : 2)
const widthOf = (x: unknown): number => (x !== null && typeof x === 'object' && Number.isSafeInteger((x as Matrix).cols) ? (x as Matrix).cols : 0)

/**
 * Multinomial logistic (softmax) regression in float64, an oracle and a white-box model.
 *
 * Logits are `W x + b`; the gradient of logit c is row c of W. `fit` minimises the mean
 * cross-entropy + (λ/2)(‖W‖² + ‖b‖²) (the bias is regularised too, which makes the optimum
 * unique — without it a common shift of b changes nothing) by Newton–CG to ‖∇F‖ ≤ 1e-10.
 *
 * @example
 * import { gaussianBlobs } from '@sonde/datasets'
 * import { SoftmaxRegression } from '@sonde/models'
 *
 * const { x, y } = gaussianBlobs({ n: 300, dim: 4, classes: 3, seed: 1 })
 * const fitted = SoftmaxRegression.fit(x, y, { numClasses: 3, l2: 0.01 }) // Either<ProbeError, Fitted<SoftmaxRegression>>
 * const model = SoftmaxRegression.random(784, 10, 1) // random weights: 10 classes of 784 features
 */
export class SoftmaxRegression extends LinearClassifier implements SoftmaxParams {
  readonly weights: Matrix
  readonly bias: Float64Array
  private readonly options: LinearOracleOptions

  constructor(params: SoftmaxParams, options: LinearOracleOptions = {}) {
    if (params === null || typeof params !== 'object' || !isMatrixShaped(params.weights) || !(params.bias instanceof Float64Array)) {
      throw new RangeError('SoftmaxRegression: expected { weights: Matrix (K × D, Float64Array data), bias: Float64Array of K }')
    }
    const { rows: k, cols: d } = params.weights
    if (params.bias.length !== k) throw new RangeError(`SoftmaxRegression: bias has ${params.bias.length} values; weights have ${k} rows`)
    const theta = new Float64Array(k * (d + 1))
    theta.set(params.weights.data)
    theta.set(params.bias, k * d)
    super({ link: 'softmax', m: k, d }, theta, k, 'softmax', options)
    this.weights = { rows: k, cols: d, data: theta.subarray(0, k * d) }
    this.bias = theta.subarray(k * d)
    this.options = options
  }

  /**
   * Fit to (x, y) with labels in 0..numClasses−1 (default: 1 + the largest label).
   */
  static fit(
    x: Matrix,
    y: Int32Array,
    options: FitOptions & LinearOracleOptions & { readonly numClasses?: number } = {},
  ): E.Either<ProbeError, Fitted<SoftmaxRegression>> {
    const o = options ?? {}
    const k = o.numClasses ?? classesIn(y)
    return fitGlm({ link: 'softmax', m: k, d: widthOf(x) }, x, y, o, (theta, l2) =>
      SoftmaxRegression.fromParams(theta, k, { ...o, l2 }),
    )
  }

  /**
   * {@link SoftmaxRegression.fit} as a task: progress after every Newton step, `Aborted` between steps
   * when `options.signal` fires.
   *
   * @example
   * import { toPromise, type ProgressEvent } from '@sonde/oracle'
   * import { gaussianBlobs } from '@sonde/datasets'
   * import { SoftmaxRegression } from '@sonde/models'
   *
   * const { x, y } = gaussianBlobs({ n: 300, dim: 4, classes: 3, seed: 1 })
   * const events: ProgressEvent[] = []
   * const fitted = await toPromise(SoftmaxRegression.fitTask(x, y, { numClasses: 3, signal: AbortSignal.timeout(10_000), progress: (e) => events.push(e) }))
   */
  static fitTask(
    x: Matrix,
    y: Int32Array,
    options: FitOptions & LinearOracleOptions & RunControl & { readonly numClasses?: number } = {},
  ): TE.TaskEither<ProbeError, Fitted<SoftmaxRegression>> {
    const o = options ?? {}
    const k = o.numClasses ?? classesIn(y)
    return fitGlmTask({ link: 'softmax', m: k, d: widthOf(x) }, x, y, o, (theta, l2) => SoftmaxRegression.fromParams(theta, k, { ...o, l2 }))
  }

  /** From a flat θ = [W (row-major), b]. */
  static fromParams(theta: Float64Array, numClasses: number, options: LinearOracleOptions = {}): SoftmaxRegression {
    const d = theta.length / numClasses - 1
    return new SoftmaxRegression(
      { weights: { rows: numClasses, cols: d, data: theta.slice(0, numClasses * d) }, bias: theta.slice(numClasses * d) },
      options,
    )
  }

  /** A random model with N(0, 1/D) weights and N(0, 1) biases, for tests. */
  static random(inputDim: number, numClasses: number, seed: number, options: LinearOracleOptions = {}): SoftmaxRegression {
    const rng = createRng(seed)
    const scale = 1 / Math.sqrt(inputDim)
    return new SoftmaxRegression(
      {
        weights: { rows: numClasses, cols: inputDim, data: Float64Array.from({ length: numClasses * inputDim }, () => rng.normal() * scale) },
        bias: Float64Array.from({ length: numClasses }, () => rng.normal()),
      },
      options,
    )
  }

  protected withParams(theta: Float64Array, l2: number): this {
    return SoftmaxRegression.fromParams(theta, this.info.numClasses, { ...this.options, l2 }) as this
  }

  protected revealLogits(z: Float64Array, rows: number): Matrix {
    return { rows, cols: this.info.numClasses, data: z }
  }

  protected revealProbabilities(z: Float64Array, rows: number): Matrix {
    return { rows, cols: this.info.numClasses, data: glm.softmaxRows(z, this.info.numClasses) }
  }

  protected logitGradient(cls: number, out: Float64Array): void {
    const d = this.info.inputDim
    out.set(this.weights.data.subarray(cls * d, (cls + 1) * d))
  }
}
