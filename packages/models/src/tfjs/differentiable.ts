import * as tf from '@tensorflow/tfjs'
import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { errors, SondeError, type Matrix, type ProbeError, type RunControl } from '@sonde/oracle'
import { validateTrainingData, type FitOptions, type Fitted, type TwiceDifferentiable } from '../linear.js'
import { newtonCG, newtonCGTask, norm2, type ConvexObjective } from '../optimize.js'

/** Options of {@link differentiableNetwork}. */
export interface DifferentiableNetworkOptions {
  /** L2 strength λ₂ of the objective (1/n) Σ ℓ + (λ₂/2)‖θ‖² (all trainable weights). Default 0.01. */
  readonly l2?: number
  /**
   * Damping suggested to inverse-Hessian solves (λ in (H + λI)⁻¹): a network's Hessian may be
   * indefinite or nearly singular. Default 0.01 (Koh & Liang's value for their CNN).
   */
  readonly damping?: number
  /**
   * Length of the parameter step of the central differences behind Hessian-vector products
   * (gradients are float32: 1e-3 balances truncation, O(step²), against rounding, O(1e-7/step)).
   * Default 1e-3.
   */
  readonly fdStep?: number
}

/** A tfjs network presented as {@link TwiceDifferentiable}, with the tf model it drives. */
export interface DifferentiableNetwork extends TwiceDifferentiable {
  /** The tfjs model; its weights are set to this network's parameters before every computation. */
  readonly model: tf.LayersModel
  readonly numClasses: number
  readonly inputDim: number
  /** The step of the finite differences. */
  readonly fdStep: number
}

const flatten = (model: tf.LayersModel): Float64Array => {
  const parts = model.trainableWeights.map((w) => w.read().dataSync())
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const assign = (model: tf.LayersModel, theta: Float64Array): void => {
  let o = 0
  for (const w of model.trainableWeights) {
    const size = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1)
    const t = tf.tensor(new Float32Array(theta.subarray(o, o + size)), w.shape as number[], 'float32')
    w.write(t)
    t.dispose()
    o += size
  }
}

/**
 * Present a trained tfjs classifier (logits out) as a {@link TwiceDifferentiable} model at its
 * current weights: flat float64 parameters, softmax cross-entropy losses, per-example gradients
 * (tfjs autodiff, float32), Hessian-vector products by central differences of the gradient
 * (nested `tf.grad` is silently wrong through softmax, tfjs#3252; the differences are tested
 * against the exact Hessian of a softmax-regression network), and `refit` by Newton–CG on those
 * products. Use the suggested `damping` for influence: the Hessian of a network need not be
 * positive definite.
 *
 * The tf model is shared: every method first writes this network's parameters into it, so
 * networks returned by `refit` and the original can be used in turn, not concurrently.
 *
 * @example
 * // fragment: a trained tfjs classifier and its training set
 * import { either as E } from 'fp-ts'
 * import type { LayersModel } from '@tensorflow/tfjs'
 * import type { Matrix } from '@sonde/oracle'
 * import { differentiableNetwork } from '@sonde/models/tfjs'
 *
 * declare const mlp: LayersModel // logits out, e.g. buildMlp + trainClassifier
 * declare const train: { x: Matrix; y: Int32Array }
 * const net = differentiableNetwork(mlp, { l2: 0.01, damping: 0.01 })
 * const refit = net.refit(train.x, train.y, { tolerance: 1e-5 }) // Either<ProbeError, Fitted<TwiceDifferentiable>>
 * const polished = E.isRight(refit) ? refit.right.model : net
 */
export const differentiableNetwork = (model: tf.LayersModel, options: DifferentiableNetworkOptions = {}): DifferentiableNetwork => {
  const l2 = options.l2 ?? 0.01
  const damping = options.damping ?? 0.01
  const fdStep = options.fdStep ?? 1e-3
  for (const [name, v] of Object.entries({ l2, damping, fdStep })) {
    if (!(v >= 0 && Number.isFinite(v))) throw new SondeError(errors.invalidOptions([{ path: `options.${name}`, message: `is ${v}; expected a finite number ≥ 0` }]))
  }
  return make(model, flatten(model), l2, damping, fdStep)
}

/** Objective, gradient and Hessian-vector product at any parameters, for one model, L2 and step. */
const core = (model: tf.LayersModel, l2: number, fdStep: number) => {
  const outShape = model.outputs[0]?.shape ?? []
  const numClasses = outShape[outShape.length - 1] ?? 0
  const inputDim = (model.inputs[0]?.shape.slice(1) ?? []).reduce<number>((a, b) => a * (b ?? Number.NaN), 1)
  const inShape = model.inputs[0]?.shape.slice(1).map((s) => s ?? 1) ?? []
  const p = model.trainableWeights.reduce((a, w) => a + w.shape.reduce<number>((m, k) => m * (k ?? 1), 1), 0)
  const vars = (): tf.Variable[] => model.trainableWeights.map((w) => w.read() as tf.Variable)

  const check = (x: Matrix, y: Int32Array): void => {
    const r = validateTrainingData(x, y, inputDim, numClasses)
    if (E.isLeft(r)) throw new SondeError(r.left)
  }
  const inputs = (x: Matrix): tf.Tensor => tf.tensor(Float32Array.from(x.data), [x.rows, ...inShape])
  const perExampleLoss = (xs: tf.Tensor, y: Int32Array): tf.Tensor1D =>
    tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), numClasses), model.apply(xs) as tf.Tensor, undefined, 0, tf.Reduction.NONE) as tf.Tensor1D

  /** ∇_θ (1/n) Σ ℓ at parameters `at` (float32 autodiff), without the regulariser. */
  /** `load: false` when the caller has just written `at` into the model (a loop over rows). */
  const dataGradient = (at: Float64Array, x: Matrix, y: Int32Array, load = true): Float64Array => {
    if (load) assign(model, at)
    const out = new Float64Array(p)
    tf.tidy(() => {
      const xs = inputs(x)
      const { grads } = tf.variableGrads(() => tf.mean(perExampleLoss(xs, y)) as tf.Scalar, vars())
      let o = 0
      for (const v of vars()) {
        const g = grads[v.name]!.dataSync()
        out.set(g, o)
        o += g.length
      }
    })
    return out
  }

  const losses = (at: Float64Array, x: Matrix, y: Int32Array): Float64Array => {
    assign(model, at)
    return Float64Array.from(tf.tidy(() => perExampleLoss(inputs(x), y).dataSync()))
  }

  const objective = (at: Float64Array, x: Matrix, y: Int32Array): number => {
    const l = losses(at, x, y)
    let s = 0
    for (const v of l) s += v
    let sq = 0
    for (const t of at) sq += t * t
    return (x.rows === 0 ? 0 : s / x.rows) + 0.5 * l2 * sq
  }

  const objectiveGradient = (at: Float64Array, x: Matrix, y: Int32Array): Float64Array => {
    const g = dataGradient(at, x, y)
    for (let q = 0; q < p; q++) g[q]! += l2 * at[q]!
    return g
  }

  /** Central difference along v of a function of the parameters, scaled back by ‖v‖. */
  const alongV = (v: Float64Array, at: Float64Array, f: (t: Float64Array) => Float64Array): Float64Array => {
    const vn = norm2(v)
    if (vn === 0) return f(at).fill(0)
    const h = fdStep / vn
    const plus = new Float64Array(p)
    const minus = new Float64Array(p)
    for (let q = 0; q < p; q++) {
      plus[q] = at[q]! + h * v[q]!
      minus[q] = at[q]! - h * v[q]!
    }
    const gp = f(plus)
    const gm = f(minus)
    for (let q = 0; q < gp.length; q++) gp[q] = (gp[q]! - gm[q]!) / (2 * h)
    return gp
  }

  const hvpAt = (at: Float64Array, x: Matrix, y: Int32Array, v: Float64Array): Float64Array => {
    const hv = alongV(v, at, (t) => dataGradient(t, x, y))
    for (let q = 0; q < p; q++) hv[q]! += l2 * v[q]!
    return hv
  }

  return { numClasses, inputDim, p, check, inputs, perExampleLoss, dataGradient, losses, objective, objectiveGradient, alongV, hvpAt }
}

const make = (model: tf.LayersModel, theta: Float64Array, l2: number, damping: number, fdStep: number): DifferentiableNetwork => {
  const { numClasses, inputDim, p, check, inputs, perExampleLoss, dataGradient, losses, objective, objectiveGradient, alongV, hvpAt } = core(model, l2, fdStep)
  if (theta.length !== p) throw new RangeError(`θ has ${theta.length} values; the network has ${p} trainable parameters`)
  const perExampleGradients = (x: Matrix, y: Int32Array): Matrix => {
    check(x, y)
    const d = x.cols
    const out = new Float64Array(x.rows * p)
    assign(model, theta) // once, not once per row
    for (let i = 0; i < x.rows; i++) {
      const g = dataGradient(theta, { rows: 1, cols: d, data: x.data.subarray(i * d, (i + 1) * d) }, y.subarray(i, i + 1), false)
      out.set(g, i * p)
    }
    return { rows: x.rows, cols: p, data: out }
  }

  // What a refit checks before it starts, and the (damped) objective it minimises.
  const refitProblem = (x: Matrix, y: Int32Array, fit: FitOptions): E.Either<ProbeError, { objective: ConvexObjective; start: Float64Array; l2: number; limits: { tol: number; maxIter: number } }> =>
    F.pipe(
      validateTrainingData(x, y, inputDim, numClasses),
      E.chainW((): E.Either<ProbeError, { objective: ConvexObjective; start: Float64Array; l2: number; limits: { tol: number; maxIter: number } }> => {
        const l2Fit = fit.l2 ?? l2
        if (!(l2Fit >= 0 && Number.isFinite(l2Fit))) return E.left(errors.invalidInput(`l2 is ${l2Fit}; expected a finite number ≥ 0`, 'options.l2'))
        const start = fit.warmStart ?? theta
        if (start.length !== p) return E.left(errors.shapeMismatch('options.warmStart', `${p} parameters`, `${start.length}`))
        const c = core(model, l2Fit, fdStep)
        return E.right({
          objective: {
            valueAndGradient: (t) => ({ value: c.objective(t, x, y), gradient: c.objectiveGradient(t, x, y) }),
            // Damped: Newton–CG on an indefinite Hessian would stop at the first negative direction.
            hessianOperator: (t) => (v) => {
              const hv = c.hvpAt(t, x, y, v)
              for (let q = 0; q < p; q++) hv[q]! += damping * v[q]!
              return hv
            },
          },
          start,
          l2: l2Fit,
          limits: { tol: fit.tolerance ?? fit.tol ?? 1e-5, maxIter: fit.maxIter ?? 100 },
        })
      }),
    )
  const net: DifferentiableNetwork = {
    whitebox: true,
    model,
    numClasses,
    inputDim,
    fdStep,
    numParams: p,
    l2,
    damping,
    params: () => theta.slice(),
    losses: (x, y) => {
      check(x, y)
      return losses(theta, x, y)
    },
    objective: (x, y) => {
      check(x, y)
      return objective(theta, x, y)
    },
    objectiveGradient: (x, y) => {
      check(x, y)
      return objectiveGradient(theta, x, y)
    },
    perExampleGradients,
    hessianVectorProduct: (x, y, v) => {
      check(x, y)
      return hvpAt(theta, x, y, v)
    },
    hessianOperator: (x, y) => {
      check(x, y)
      return (v) => hvpAt(theta, x, y, v)
    },
    hessian: (x, y) => {
      check(x, y)
      const h = new Float64Array(p * p)
      const e = new Float64Array(p)
      for (let q = 0; q < p; q++) {
        e[q] = 1
        h.set(hvpAt(theta, x, y, e), q * p)
        e[q] = 0
      }
      // Columns from differences are symmetric only to rounding: symmetrise.
      for (let a = 0; a < p; a++) {
        for (let b = a + 1; b < p; b++) {
          const m = 0.5 * (h[a * p + b]! + h[b * p + a]!)
          h[a * p + b] = m
          h[b * p + a] = m
        }
      }
      return { rows: p, cols: p, data: h }
    },
    gradientProducts: (x, y, v) => {
      const g = perExampleGradients(x, y)
      const out = new Float64Array(v.rows * x.rows)
      for (let a = 0; a < v.rows; a++) {
        const va = v.data.subarray(a * p, (a + 1) * p)
        for (let i = 0; i < x.rows; i++) {
          let s = 0
          const gi = g.data.subarray(i * p, (i + 1) * p)
          for (let q = 0; q < p; q++) s += va[q]! * gi[q]!
          out[a * x.rows + i] = s
        }
      }
      return { rows: v.rows, cols: x.rows, data: out }
    },
    mixedGradientProduct: (x, y, v) => {
      check(x, y)
      // ∇ₓ [vᵀ∇_θ ℓ] = ∂/∂θ along v of ∇ₓ ℓ: central differences of the input gradients.
      const inputGradients = (t: Float64Array): Float64Array => {
        assign(model, t)
        return Float64Array.from(
          tf.tidy(() => {
            const xs = inputs(x)
            return tf.grad((z: tf.Tensor) => tf.sum(perExampleLoss(z, y)))(xs).dataSync()
          }),
        )
      }
      return { rows: x.rows, cols: x.cols, data: alongV(v, theta, inputGradients) }
    },
    refit: (x, y, fit: FitOptions = {}): E.Either<ProbeError, Fitted<TwiceDifferentiable>> =>
      F.pipe(
        refitProblem(x, y, fit),
        E.chainW((q) => F.pipe(newtonCG(q.objective, q.start, q.limits), E.map(({ theta: fitted, report }) => ({ model: make(model, fitted, q.l2, damping, fdStep) as TwiceDifferentiable, report })))),
      ),
    refitTask: (x, y, fit: FitOptions & RunControl = {}): TE.TaskEither<ProbeError, Fitted<TwiceDifferentiable>> =>
      async () => {
        const q = refitProblem(x, y, fit)
        if (E.isLeft(q)) return q
        const r = await newtonCGTask(q.right.objective, q.right.start, q.right.limits, fit)
        return E.isLeft(r) ? r : E.right({ model: make(model, r.right.theta, q.right.l2, damping, fdStep) as TwiceDifferentiable, report: r.right.report })
      },
  }
  return net
}
