import { either as E, taskEither as TE, function as F } from 'fp-ts'
import {
  errors,
  guardGradient,
  guardPredict,
  labelsFromScores,
  validateInfo,
  SondeError,
  type Domain,
  type GradientOracle,
  type Matrix,
  type OracleError,
  type OracleInfo,
  type OutputKind,
  type Prediction,
  type ProbeError,
  type RunControl,
} from '@sonde/oracle'
import * as glm from './glm.js'
import { newtonCG, newtonCGTask, type ConvexObjective, type FitReport } from './optimize.js'

/**
 * White-box access to a model trained by empirical risk minimisation: flat parameters, the
 * regularised training objective F(θ) = (1/n) Σᵢ ℓ(xᵢ, yᵢ; θ) + (λ/2)‖θ‖², its gradient, per-example
 * loss gradients, exact Hessian-vector products, and refitting (warm-started). This is the
 * `whitebox` capability that influence functions and model correction need.
 */
export interface TwiceDifferentiable {
  readonly whitebox: true
  /** Number of parameters p. */
  readonly numParams: number
  /** The L2 strength λ of the objective (the one the model was fit with). */
  readonly l2: number
  /** θ as a flat vector (a copy). */
  readonly params: () => Float64Array
  /** ℓ(xᵢ, yᵢ; θ) for each row, without the regulariser. */
  readonly losses: (x: Matrix, y: Int32Array) => Float64Array
  /** F(θ) on (x, y), with the regulariser. */
  readonly objective: (x: Matrix, y: Int32Array) => number
  /** ∇F(θ) on (x, y), with the regulariser. */
  readonly objectiveGradient: (x: Matrix, y: Int32Array) => Float64Array
  /** Rows ∇_θ ℓ(xᵢ, yᵢ; θ), n × p, without the regulariser. */
  readonly perExampleGradients: (x: Matrix, y: Int32Array) => Matrix
  /** ∇²F(θ) v on (x, y), exactly. */
  readonly hessianVectorProduct: (x: Matrix, y: Int32Array, v: Float64Array) => Float64Array
  /**
   * v ↦ ∇²F(θ) v on fixed (x, y): what iterative solvers call many times, with whatever depends
   * only on θ and the data (the curvature) computed once.
   */
  readonly hessianOperator: (x: Matrix, y: Int32Array) => (v: Float64Array) => Float64Array
  /** ∇²F(θ) as a dense p × p matrix, for exact solves at moderate p (p² memory). */
  readonly hessian: (x: Matrix, y: Int32Array) => Matrix
  /**
   * vₐᵀ ∇_θ ℓ(xᵢ, yᵢ; θ) for every row vₐ of `v` (t × p) and every example i (without the
   * regulariser): t × n. Influence scores for all training points are this one product.
   */
  readonly gradientProducts: (x: Matrix, y: Int32Array, v: Matrix) => Matrix
  /** Rows ∇ₓ [vᵀ ∇_θ ℓ(xᵢ, yᵢ; θ)], n × d: the mixed second derivative seen along v. */
  readonly mixedGradientProduct: (x: Matrix, y: Int32Array, v: Float64Array) => Matrix
  /**
   * Damping an inverse-Hessian solve should add for this model (λ in (H + λI)⁻¹): 0 for a
   * convex fit at its optimum; positive for networks, whose Hessian may be indefinite.
   */
  readonly damping: number
  /**
   * Minimise the objective again on other data (e.g. without one point), warm-started from
   * this model's parameters unless `options.warmStart` is given; the same L2 unless `options.l2`.
   */
  readonly refit: (x: Matrix, y: Int32Array, options?: FitOptions) => E.Either<ProbeError, Fitted<TwiceDifferentiable>>
  /**
   * {@link TwiceDifferentiable.refit} as a task that reports progress between optimiser steps and stops with
   * `Aborted` when `options.signal` fires. Optional: a caller without it uses `refit`.
   */
  readonly refitTask?: (x: Matrix, y: Int32Array, options?: FitOptions & RunControl) => TE.TaskEither<ProbeError, Fitted<TwiceDifferentiable>>
}

/**
 * Refit `model` on (x, y) abortably when it can (`refitTask`), else with its synchronous `refit`.
 *
 * @example
 * // fragment: a fitted model and a training set
 * import type { Matrix } from '@sonde/oracle'
 * import { refitWith, type TwiceDifferentiable } from '@sonde/models'
 *
 * declare const model: TwiceDifferentiable
 * declare const loo: { x: Matrix; y: Int32Array } // the training set less one row
 * const r = await refitWith(model, loo.x, loo.y, { signal: AbortSignal.timeout(60_000) })() // Either<ProbeError, Fitted<…>>
 */
export const refitWith =
  (model: TwiceDifferentiable, x: Matrix, y: Int32Array, options: FitOptions & RunControl = {}): TE.TaskEither<ProbeError, Fitted<TwiceDifferentiable>> =>
  async () => {
    if (typeof model.refitTask === 'function') return model.refitTask(x, y, options)()
    const { signal: _s, progress: _p, log: _l, ...fit } = options
    return model.refit(x, y, fit)
  }

/** Whether `m` is a `Matrix` with a Float64Array of `rows × cols` values (for constructors' guards). */
export const isMatrixShaped = (m: unknown): m is Matrix => {
  if (m === null || typeof m !== 'object') return false
  const q = m as Partial<Matrix>
  return q.data instanceof Float64Array && Number.isSafeInteger(q.rows) && Number.isSafeInteger(q.cols) && q.rows! >= 0 && q.cols! >= 0 && q.data.length === q.rows! * q.cols!
}

/** Options of a fit. */
export interface FitOptions {
  /** L2 strength λ ≥ 0 on all parameters (weights and biases). Default 1e-3. */
  readonly l2?: number
  /** Stop when ‖∇F‖₂ ≤ tolerance. Default 1e-10. */
  readonly tolerance?: number
  /** @deprecated Use `tolerance`. */
  readonly tol?: number
  /** Most Newton steps. Default 100. */
  readonly maxIter?: number
  /** Start from these parameters (e.g. the full-data fit, to refit without one point). */
  readonly warmStart?: Float64Array
}

/** Options of the oracle a linear model presents. */
export interface LinearOracleOptions {
  /** What `predict` reveals. Default `'probabilities'`. */
  readonly output?: OutputKind
  readonly id?: string
  readonly domain?: Domain
  readonly classNames?: readonly string[]
  /** The L2 strength of the objective (set by `fit`). Default 0. */
  readonly l2?: number
}

/** A fitted model and the fit's report. */
export interface Fitted<M> {
  readonly model: M
  readonly report: FitReport
}

const invalid = (message: string, path: string): E.Either<ProbeError, never> => E.left(errors.invalidInput(message, path))

/** Check training data before a fit: `x` a finite matrix (of `inputDim` columns when given), `y` one label in 0..numLabels − 1 per row; `InvalidInput`/`ShapeMismatch` otherwise. */
export const validateTrainingData = (
  x: Matrix,
  y: Int32Array,
  inputDim: number | undefined,
  numLabels: number,
): E.Either<ProbeError, void> => {
  if (!isMatrixShaped(x) && !(x !== null && typeof x === 'object' && (x as Matrix).data instanceof Float64Array)) {
    return invalid(`x is ${x === null ? 'null' : typeof x}; expected a Matrix { rows, cols, data: Float64Array }`, 'x')
  }
  if (x.data.length !== x.rows * x.cols) return invalid(`x.data has ${x.data.length} values; ${x.rows}×${x.cols} needs ${x.rows * x.cols}`, 'x')
  if (inputDim !== undefined && x.cols !== inputDim) {
    return E.left(errors.shapeMismatch('x', `${inputDim} columns`, `${x.cols} columns`))
  }
  if (!(y instanceof Int32Array) || y.length !== x.rows) {
    return E.left(errors.shapeMismatch('y', `an Int32Array of ${x.rows} labels (one per row of x)`, `${y?.length} labels`))
  }
  for (let k = 0; k < x.data.length; k++) {
    if (!Number.isFinite(x.data[k]!)) return invalid(`x[${Math.floor(k / x.cols)}][${k % x.cols}] is ${x.data[k]}; expected a finite number`, `x[${Math.floor(k / x.cols)}][${k % x.cols}]`)
  }
  for (let i = 0; i < y.length; i++) {
    if (!(y[i]! >= 0 && y[i]! < numLabels)) return invalid(`y[${i}] is ${y[i]}; expected a label in 0..${numLabels - 1}`, `y[${i}]`)
  }
  return E.right(undefined)
}

/**
 * What logistic and softmax regression share: the oracle (labels, probabilities or logits;
 * logit gradients) and the white-box capability over the {@link glm} core.
  *
  * @example
  * import { SoftmaxRegression, type LinearClassifier } from '@sonde/models'
  *
  * const model: LinearClassifier = SoftmaxRegression.random(4, 3, 1)
  * const theta = model.params() // 15 parameters: the 3 × 4 weights, then the 3 biases
  */
export abstract class LinearClassifier implements GradientOracle, TwiceDifferentiable {
  readonly whitebox = true as const
  readonly info: OracleInfo
  readonly l2: number
  readonly numParams: number
  protected readonly shape: glm.GlmShape
  protected readonly theta: Float64Array

  protected constructor(shape: glm.GlmShape, theta: Float64Array, numClasses: number, kind: string, options: LinearOracleOptions) {
    this.shape = shape
    this.theta = theta
    this.numParams = glm.paramCount(shape)
    this.l2 = options.l2 ?? 0
    if (theta.length !== this.numParams) throw new RangeError(`${kind}: θ has ${theta.length} values; expected ${this.numParams}`)
    for (let q = 0; q < theta.length; q++) {
      if (!Number.isFinite(theta[q]!)) {
        throw new SondeError(errors.invalidInput(`${kind} parameter ${q} is ${theta[q]}; parameters must be finite`, `params[${q}]`))
      }
    }
    this.info = {
      id: options.id ?? `sonde:${kind}-${shape.d}x${numClasses}`,
      inputDim: shape.d,
      numClasses,
      output: options.output ?? 'probabilities',
      ...(options.domain !== undefined ? { domain: options.domain } : {}),
      ...(options.classNames !== undefined ? { classNames: options.classNames } : {}),
    }
    const checked = validateInfo(this.info)
    if (E.isLeft(checked)) throw new SondeError(checked.left)
  }

  /** The same model with other parameters (and the same oracle options). */
  protected abstract withParams(theta: Float64Array, l2: number): this

  /** Logits as revealed: n × numClasses. */
  protected abstract revealLogits(z: Float64Array, rows: number): Matrix

  /** Probabilities: n × numClasses. */
  protected abstract revealProbabilities(z: Float64Array, rows: number): Matrix

  /** ∂ logit_cls / ∂x for one row (written into `out`). */
  protected abstract logitGradient(cls: number, out: Float64Array): void

  /** Logits of every row, n × numClasses, in float64 (no validation; for internal and white-box use). */
  logits(x: Matrix): Matrix {
    return this.revealLogits(glm.linearOutputs(this.shape, this.theta, x), x.rows)
  }

  readonly predict = (x: Matrix): TE.TaskEither<OracleError, Prediction> =>
    guardPredict(this.info, (q) => {
      const z = glm.linearOutputs(this.shape, this.theta, q)
      // Finite inputs can still overflow the logits (|x| near 1e308): say so rather than answer NaN.
      const over = z.findIndex((v) => !Number.isFinite(v))
      if (over >= 0) {
        const i = Math.floor(over / this.shape.m)
        return TE.left(errors.invalidInput(`x[${i}] is too large for this model: its logits overflow float64 (${z[over]})`, `x[${i}]`))
      }
      const logits = this.revealLogits(z, q.rows)
      const labels = labelsFromScores(logits)
      if (this.info.output === 'label') return TE.right({ labels })
      return TE.right({ labels, scores: this.info.output === 'logits' ? logits : this.revealProbabilities(z, q.rows) })
    })(x)

  readonly gradient = (x: Matrix, cls: number | Int32Array): TE.TaskEither<OracleError, Matrix> =>
    guardGradient(this.info, (q, c) => {
      const d = this.shape.d
      const out = new Float64Array(q.rows * d)
      for (let i = 0; i < q.rows; i++) this.logitGradient(c[i]!, out.subarray(i * d, (i + 1) * d))
      return TE.right({ rows: q.rows, cols: d, data: out })
    })(x, cls)

  readonly params = (): Float64Array => this.theta.slice()
  readonly losses = (x: Matrix, y: Int32Array): Float64Array =>
    glm.lossAndResiduals(this.shape, glm.linearOutputs(this.shape, this.theta, x), y).loss
  readonly objective = (x: Matrix, y: Int32Array): number => glm.objective(this.shape, this.theta, x, y, this.l2)
  readonly objectiveGradient = (x: Matrix, y: Int32Array): Float64Array => glm.gradient(this.shape, this.theta, x, y, this.l2)
  readonly perExampleGradients = (x: Matrix, y: Int32Array): Matrix => glm.perExampleGradients(this.shape, this.theta, x, y)
  readonly hessianVectorProduct = (x: Matrix, y: Int32Array, v: Float64Array): Float64Array =>
    glm.hessianVectorProduct(this.shape, this.theta, x, y, this.l2, v)
  readonly hessianOperator = (x: Matrix, y: Int32Array): ((v: Float64Array) => Float64Array) =>
    glm.hessianOperator(this.shape, this.theta, x, y, this.l2)
  readonly hessian = (x: Matrix, y: Int32Array): Matrix => glm.hessian(this.shape, this.theta, x, y, this.l2)
  readonly gradientProducts = (x: Matrix, y: Int32Array, v: Matrix): Matrix => glm.gradientProducts(this.shape, this.theta, x, y, v)
  readonly mixedGradientProduct = (x: Matrix, y: Int32Array, v: Float64Array): Matrix =>
    glm.mixedGradientProduct(this.shape, this.theta, x, y, v)
  /** 0: the objective is strictly convex (for λ > 0) and the fit sits at its optimum. */
  readonly damping: number = 0

  /**
   * Refit on (x, y) by Newton–CG, warm-started from this model's parameters unless
   * `options.warmStart` is given; `l2` defaults to this model's.
   */
  readonly refit = (x: Matrix, y: Int32Array, options: FitOptions = {}): E.Either<ProbeError, Fitted<this>> =>
    fitGlm(this.shape, x, y, { ...options, l2: options.l2 ?? this.l2, warmStart: options.warmStart ?? this.theta }, (theta, l2) => this.withParams(theta, l2))

  /** {@link refit} with progress after every Newton step and an abort between steps (`Aborted`). */
  readonly refitTask = (x: Matrix, y: Int32Array, options: FitOptions & RunControl = {}): TE.TaskEither<ProbeError, Fitted<this>> =>
    fitGlmTask(this.shape, x, y, { ...options, l2: options.l2 ?? this.l2, warmStart: options.warmStart ?? this.theta }, (theta, l2) => this.withParams(theta, l2))
}

/** Everything a GLM fit checks before it starts, and the objective it then minimises. */
const glmProblem = (shape: glm.GlmShape, x: Matrix, y: Int32Array, options: FitOptions): E.Either<ProbeError, { objective: ConvexObjective; theta0: Float64Array; l2: number; tol: number; maxIter: number }> => {
  const l2 = options.l2 ?? 1e-3
  const tol = options.tolerance ?? options.tol ?? 1e-10
  const maxIter = options.maxIter ?? 100
  const numLabels = shape.link === 'sigmoid' ? 2 : shape.m
  const p = glm.paramCount(shape)
  return F.pipe(
    validateTrainingData(x, y, shape.d, numLabels),
    E.chain(() => {
      if (!(l2 >= 0) || !Number.isFinite(l2)) return invalid(`l2 is ${l2}; expected a finite number ≥ 0`, 'options.l2')
      if (!(tol > 0)) return invalid(`tolerance is ${tol}; expected a positive number`, 'options.tolerance')
      if (!Number.isInteger(maxIter) || maxIter < 1) return invalid(`maxIter is ${maxIter}; expected an integer ≥ 1`, 'options.maxIter')
      if (options.warmStart !== undefined && options.warmStart.length !== p) {
        return E.left(errors.shapeMismatch('options.warmStart', `${p} parameters`, `${options.warmStart.length}`))
      }
      return E.right(undefined)
    }),
    E.map(() => {
      const xs = glm.sparseRows(x)
      return {
        objective: {
          valueAndGradient: (t: Float64Array) => glm.objectiveAndGradient(shape, t, xs, y, l2),
          hessianOperator: (t: Float64Array) => glm.hessianOperator(shape, t, xs, y, l2),
        },
        theta0: options.warmStart?.slice() ?? new Float64Array(p),
        l2,
        tol,
        maxIter,
      }
    }),
  )
}

/** Fit θ of a GLM shape to (x, y): validate, then Newton–CG to ‖∇F‖ ≤ tolerance. */
export const fitGlm = <M>(
  shape: glm.GlmShape,
  x: Matrix,
  y: Int32Array,
  options: FitOptions,
  make: (theta: Float64Array, l2: number) => M,
): E.Either<ProbeError, Fitted<M>> =>
  F.pipe(
    glmProblem(shape, x, y, options),
    E.chainW((q) =>
      F.pipe(
        newtonCG(q.objective, q.theta0, { tol: q.tol, maxIter: q.maxIter }),
        E.map(({ theta, report }) => ({ model: make(theta, q.l2), report })),
      ),
    ),
  )

/** {@link fitGlm} with progress after every Newton step and an abort between steps. */
export const fitGlmTask =
  <M>(shape: glm.GlmShape, x: Matrix, y: Int32Array, options: FitOptions & RunControl, make: (theta: Float64Array, l2: number) => M): TE.TaskEither<ProbeError, Fitted<M>> =>
  async () => {
    const q = glmProblem(shape, x, y, options)
    if (E.isLeft(q)) return q
    const r = await newtonCGTask(q.right.objective, q.right.theta0, { tol: q.right.tol, maxIter: q.right.maxIter }, options)
    return E.isLeft(r) ? r : E.right({ model: make(r.right.theta, q.right.l2), report: r.right.report })
  }
