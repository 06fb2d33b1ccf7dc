import type { either as E, taskEither as TE } from 'fp-ts'
import { createRng, type Matrix, type ProbeError, type RunControl } from '@sonde/oracle'
import * as glm from './glm.js'
import { fitGlm, fitGlmTask, LinearClassifier, type FitOptions, type Fitted, type LinearOracleOptions } from './linear.js'

/** The parameters of a binary logistic model: P(y = 1 | x) = σ(wᵀx + b). */
export interface LogisticParams {
  readonly weights: Float64Array
  readonly bias: number
}

const widthOf = (x: unknown): number => (x !== null && typeof x === 'object' && Number.isSafeInteger((x as Matrix).cols) ? (x as Matrix).cols : 0)

/**
 * Binary logistic regression in float64, an oracle and a white-box model at once.
 *
 * As an oracle it has two classes; logits are `[0, wᵀx + b]` (class 0 is the reference), so the
 * gradient of logit 1 is `w` and of logit 0 is zero; probabilities are `[1 − σ, σ]`.
 * `fit` minimises the mean log-loss + (λ/2)(‖w‖² + b²) by Newton–CG to ‖∇F‖ ≤ 1e-10.
 *
 * @example
 * import { linearlySeparable } from '@sonde/datasets'
 * import { LogisticRegression } from '@sonde/models'
 *
 * const { x, y } = linearlySeparable({ n: 100, dim: 2, seed: 1 })
 * const fitted = LogisticRegression.fit(x, y, { l2: 1e-2 }) // Either<ProbeError, Fitted<LogisticRegression>>
 * const model = new LogisticRegression({ weights: Float64Array.of(1, -1), bias: 0 })
 */
export class LogisticRegression extends LinearClassifier implements LogisticParams {
  readonly weights: Float64Array
  readonly bias: number
  private readonly options: LinearOracleOptions

  constructor(params: LogisticParams, options: LinearOracleOptions = {}) {
    if (params === null || typeof params !== 'object' || !(params.weights instanceof Float64Array) || typeof params.bias !== 'number') {
      throw new RangeError('LogisticRegression: expected { weights: Float64Array of D, bias: number }')
    }
    const d = params.weights.length
    const theta = new Float64Array(d + 1)
    theta.set(params.weights)
    theta[d] = params.bias
    super({ link: 'sigmoid', m: 1, d }, theta, 2, 'logistic', options)
    this.weights = theta.subarray(0, d)
    this.bias = params.bias
    this.options = options
  }

  /**
   * Fit to (x, y) with labels in {0, 1}; `InvalidInput`/`ShapeMismatch` for bad data,
   * `NotConverged` if the tolerance is not met (e.g. separable data with `l2: 0`).
   */
  static fit(x: Matrix, y: Int32Array, options: FitOptions & LinearOracleOptions = {}): E.Either<ProbeError, Fitted<LogisticRegression>> {
    const o = options ?? {}
    return fitGlm({ link: 'sigmoid', m: 1, d: widthOf(x) }, x, y, o, (theta, l2) => LogisticRegression.fromParams(theta, { ...o, l2 }))
  }

  /**
   * {@link LogisticRegression.fit} as a task: progress after every Newton step, `Aborted` between steps
   * when `options.signal` fires.
   *
   * @example
   * import { toPromise } from '@sonde/oracle'
   * import { linearlySeparable } from '@sonde/datasets'
   * import { LogisticRegression } from '@sonde/models'
   *
   * const { x, y } = linearlySeparable({ n: 100, dim: 2, seed: 1 })
   * const fitted = await toPromise(LogisticRegression.fitTask(x, y, { l2: 1e-3, signal: AbortSignal.timeout(10_000) }))
   */
  static fitTask(x: Matrix, y: Int32Array, options: FitOptions & LinearOracleOptions & RunControl = {}): TE.TaskEither<ProbeError, Fitted<LogisticRegression>> {
    const o = options ?? {}
    return fitGlmTask({ link: 'sigmoid', m: 1, d: widthOf(x) }, x, y, o, (theta, l2) => LogisticRegression.fromParams(theta, { ...o, l2 }))
  }

  /** From a flat θ = [w, b]. */
  static fromParams(theta: Float64Array, options: LinearOracleOptions = {}): LogisticRegression {
    const d = theta.length - 1
    return new LogisticRegression({ weights: theta.slice(0, d), bias: theta[d]! }, options)
  }

  /** A random model with N(0, 1/d) weights and N(0, 1) bias, for tests. */
  static random(inputDim: number, seed: number, options: LinearOracleOptions = {}): LogisticRegression {
    const rng = createRng(seed)
    const scale = 1 / Math.sqrt(inputDim)
    return new LogisticRegression({ weights: Float64Array.from({ length: inputDim }, () => rng.normal() * scale), bias: rng.normal() }, options)
  }

  protected withParams(theta: Float64Array, l2: number): this {
    return LogisticRegression.fromParams(theta, { ...this.options, l2 }) as this
  }

  protected revealLogits(z: Float64Array, rows: number): Matrix {
    const out = new Float64Array(rows * 2)
    for (let i = 0; i < rows; i++) out[2 * i + 1] = z[i]!
    return { rows, cols: 2, data: out }
  }

  protected revealProbabilities(z: Float64Array, rows: number): Matrix {
    const out = new Float64Array(rows * 2)
    for (let i = 0; i < rows; i++) {
      const s = glm.sigmoid(z[i]!)
      out[2 * i] = 1 - s
      out[2 * i + 1] = s
    }
    return { rows, cols: 2, data: out }
  }

  protected logitGradient(cls: number, out: Float64Array): void {
    if (cls === 1) out.set(this.weights)
    else out.fill(0)
  }
}
