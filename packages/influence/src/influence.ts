import { either as E, function as F } from 'fp-ts'
import { errors, takeRows, type Matrix, type ProbeError } from '@sonde/oracle'
import { dot, type TwiceDifferentiable } from '@sonde/models'
import { prepareInverseHvp, type Examples, type InverseHvp, type InverseHvpMethod, type InverseHvpOptions, type SolveReport } from './inverse-hvp.js'

/** Influence of every training point on every test point's loss. */
export interface InfluenceScores {
  /**
   * t × n: entry (a, j) is the predicted change in the loss of test point a when training point
   * j is removed and the model refit — Koh & Liang's I_up,loss(zⱼ, z_test) times −1/n:
   *
   *   scores[a][j] = (1/n) ∇_θ ℓ(z_test,a)ᵀ (H + λI)⁻¹ (∇_θ ℓ(zⱼ) + λ₂θ̂),
   *
   * where H is the Hessian of the training objective (1/n) Σ ℓ + (λ₂/2)‖θ‖², λ₂ the model's
   * L2 (folded into each training point's loss, as in the paper) and λ the damping. Positive:
   * the point helps (removing it raises the test loss); negative: it harms. Units: test loss.
   */
  readonly scores: Matrix
  /** t × p: s_test = (H + λI)⁻¹ ∇_θ ℓ(z_test) for each test point, computed once each. */
  readonly sTest: Matrix
  /** The loss of each test point at θ̂. */
  readonly testLosses: Float64Array
  readonly method: InverseHvpMethod
  readonly damping: number
  /** LiSSA's scale, when that method ran. */
  readonly scale?: number
  /** One report per test point. */
  readonly solves: readonly SolveReport[]
  /** Full-data Hessian-vector products spent, preparation included. */
  readonly hessianVectorProducts: number
}

/** Options of {@link influenceOnTest}, {@link selfInfluence} and {@link inputInfluence}. */
export type InfluenceOptions = InverseHvpOptions

const bad = (message: string, path: string): E.Either<ProbeError, never> => E.left(errors.invalidInput(message, path))

/** Check a set of examples against the model: shapes, finite inputs, integer labels (in range when the model says how many classes). */
export const validateExamples = (model: TwiceDifferentiable, ex: Examples, path: string, inputDim?: number): E.Either<ProbeError, void> => {
  const { x, y } = ex
  if (x === undefined || y === undefined) return bad(`${path} must be { x: Matrix, y: Int32Array }`, path)
  if (x.data.length !== x.rows * x.cols) return bad(`${path}.x.data has ${x.data.length} values; ${x.rows}×${x.cols} needs ${x.rows * x.cols}`, `${path}.x`)
  if (inputDim !== undefined && x.cols !== inputDim) return E.left(errors.shapeMismatch(`${path}.x`, `${inputDim} columns`, `${x.cols} columns`))
  if (!(y instanceof Int32Array) || y.length !== x.rows) {
    return E.left(errors.shapeMismatch(`${path}.y`, `an Int32Array of ${x.rows} labels (one per row of x)`, `${(y as { length?: number }).length} labels`))
  }
  for (let k = 0; k < x.data.length; k++) {
    if (!Number.isFinite(x.data[k]!)) return bad(`${path}.x[${Math.floor(k / x.cols)}][${k % x.cols}] is ${x.data[k]}; expected a finite number`, `${path}.x`)
  }
  const classes = (model as { readonly info?: { readonly numClasses?: number } }).info?.numClasses
  for (let i = 0; i < y.length; i++) {
    if (!(y[i]! >= 0 && (classes === undefined || y[i]! < classes))) {
      return bad(`${path}.y[${i}] is ${y[i]}; expected a label in 0..${classes === undefined ? '' : classes - 1}`, `${path}.y[${i}]`)
    }
  }
  return E.right(undefined)
}

const inputDimOf = (model: TwiceDifferentiable): number | undefined => (model as { readonly info?: { readonly inputDim?: number } }).info?.inputDim

/** Validate train and test, then prepare the solver. */
const prepare = (
  model: TwiceDifferentiable,
  train: Examples,
  test: Examples | undefined,
  options: InfluenceOptions,
): E.Either<ProbeError, InverseHvp> =>
  F.pipe(
    validateExamples(model, train, 'train', inputDimOf(model)),
    E.chain(() => (train.x.rows === 0 ? bad('train has no rows', 'train') : E.right(undefined))),
    E.chain(() => (test === undefined ? E.right(undefined) : validateExamples(model, test, 'test', train.x.cols))),
    E.chain(() => prepareInverseHvp(model, train, options)),
  )

/** s_test for every row of `grads` (t × p), stopping at the first failed solve. */
const solveRows = (inv: InverseHvp, grads: Matrix): E.Either<ProbeError, { readonly s: Matrix; readonly reports: SolveReport[] }> => {
  const p = grads.cols
  const s = new Float64Array(grads.rows * p)
  const reports: SolveReport[] = []
  for (let a = 0; a < grads.rows; a++) {
    const r = inv.solve(grads.data.slice(a * p, (a + 1) * p))
    if (E.isLeft(r)) return r
    s.set(r.right.x, a * p)
    reports.push(r.right.report)
  }
  return E.right({ s: { rows: grads.rows, cols: p, data: s }, reports })
}

/** Validate, prepare the solver, and solve s_test for every test row. */
const sTestFor = (
  model: TwiceDifferentiable,
  train: Examples,
  test: Examples,
  options: InfluenceOptions,
): E.Either<ProbeError, { readonly inv: InverseHvp; readonly s: Matrix; readonly reports: SolveReport[] }> =>
  F.pipe(
    prepare(model, train, test, options),
    E.chain((inv) => F.pipe(solveRows(inv, model.perExampleGradients(test.x, test.y)), E.map(({ s, reports }) => ({ inv, s, reports })))),
  )

const productsOf = (inv: InverseHvp, reports: readonly SolveReport[]): number =>
  reports.reduce((acc, r) => acc + r.hessianVectorProducts, inv.preparationProducts)

/**
 * The removal scores of every training point from s_test vectors you already have (t × p, e.g.
 * from {@link prepareInverseHvp}): (1/n) (s_aᵀ ∇ℓⱼ + λ₂ s_aᵀθ̂) — see {@link InfluenceScores.scores}.
 * One `gradientProducts` pass; this is the second half of {@link influenceOnTest}.
 *
 * @example
 * const scores = scoresFromSTest(model, train, { rows: 1, cols: s.length, data: s })
 */
export const scoresFromSTest = (model: TwiceDifferentiable, train: Examples, sTest: Matrix): Matrix => {
  const n = train.x.rows
  const t = sTest.rows
  const products = model.gradientProducts(train.x, train.y, sTest)
  const theta = model.params()
  const scores = new Float64Array(t * n)
  for (let a = 0; a < t; a++) {
    // The L2 term λ₂θ̂ of every training point's gradient: one constant per test point.
    const reg = model.l2 === 0 ? 0 : model.l2 * dot(sTest.data.subarray(a * sTest.cols, (a + 1) * sTest.cols), theta)
    for (let j = 0; j < n; j++) scores[a * n + j] = (products.data[a * n + j]! + reg) / n
  }
  return { rows: t, cols: n, data: scores }
}

/**
 * Influence functions (Koh & Liang 2017): for each test point and each training point, the
 * predicted change in test loss if that training point were removed and the model refit — see
 * {@link InfluenceScores.scores} for the formula, signs and scale. The model must sit at an
 * optimum of its objective on `train` (fit it there, or pass `damping` for a network).
 *
 * One inverse-Hessian solve per test point (s_test, reused); the scores for all training
 * points are then one product (`model.gradientProducts`), so more training points cost little.
 *
 * @example
 * const infl = influenceOnTest(model, train, { x: digit, y: Int32Array.of(9) }, { method: 'cg' })
 * if (E.isRight(infl)) console.log(mostInfluential(infl.right, 0, 5, 'harmful'))
 */
export const influenceOnTest = (model: TwiceDifferentiable, train: Examples, test: Examples, options: InfluenceOptions = {}): E.Either<ProbeError, InfluenceScores> =>
  F.pipe(
    sTestFor(model, train, test, options),
    E.map(({ inv, s, reports }) => {
      return {
        scores: scoresFromSTest(model, train, s),
        sTest: s,
        testLosses: model.losses(test.x, test.y),
        method: inv.method,
        damping: inv.damping,
        ...(inv.scale !== undefined ? { scale: inv.scale } : {}),
        solves: reports,
        hessianVectorProducts: productsOf(inv, reports),
      }
    }),
  )

/**
 * Indices of the `count` training points with the largest influence on test point `testRow`:
 * `'helpful'` (largest positive scores: removing them hurts most), `'harmful'` (most negative)
 * or `'absolute'` (largest |score|).
 *
 * @example
 * const harmful = mostInfluential(scores, 0, 8, 'harmful')
 */
export const mostInfluential = (
  influence: Pick<InfluenceScores, 'scores'>,
  testRow: number,
  count: number,
  direction: 'helpful' | 'harmful' | 'absolute' = 'absolute',
): Int32Array => {
  const { scores } = influence
  if (!(Number.isInteger(testRow) && testRow >= 0 && testRow < scores.rows)) throw new RangeError(`testRow is ${testRow}; expected 0..${scores.rows - 1}`)
  const n = scores.cols
  const row = scores.data.subarray(testRow * n, (testRow + 1) * n)
  const key = direction === 'helpful' ? (j: number) => row[j]! : direction === 'harmful' ? (j: number) => -row[j]! : (j: number) => Math.abs(row[j]!)
  const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => key(b) - key(a) || a - b)
  return Int32Array.from(order.slice(0, Math.max(0, Math.min(count, n))))
}

/** Self-influence of every training point. */
export interface SelfInfluence {
  /**
   * Per training point i: the predicted change in its own loss if it were removed,
   * (1/n) ∇ℓᵢᵀ (H + λI)⁻¹ (∇ℓᵢ + λ₂θ̂) — Koh & Liang's −I_up,loss(zᵢ, zᵢ)/n. Large values mark
   * points the model fits only because they are in the training set: mislabels, outliers.
   */
  readonly values: Float64Array
  readonly method: InverseHvpMethod
  readonly damping: number
  readonly hessianVectorProducts: number
  /**
   * The largest relative residual over the solves checked: all of them for `'cg'` and `'lissa'`
   * (their residual comes free); for `'exact'`, where checking costs a full-data product, the
   * first and every 64th.
   */
  readonly worstResidual: number
}

/** Rows per chunk of per-example gradients (bounds memory at chunk × p). */
const CHUNK = 256

/**
 * Self-influence of every training point: n inverse-Hessian solves (one Cholesky factor and n
 * triangular solves with `'exact'`, the cheapest choice when p is a few thousand).
 *
 * @example
 * const self = selfInfluence(model, train, { method: 'exact' })
 */
export const selfInfluence = (model: TwiceDifferentiable, train: Examples, options: InfluenceOptions = {}): E.Either<ProbeError, SelfInfluence> =>
  F.pipe(
    prepare(model, train, undefined, options),
    E.chain((inv) => {
      const n = train.x.rows
      const d = train.x.cols
      const p = model.numParams
      const theta = model.params()
      const values = new Float64Array(n)
      let products = inv.preparationProducts
      let worst = 0
      for (let start = 0; start < n; start += CHUNK) {
        const rows = Math.min(CHUNK, n - start)
        const g = model.perExampleGradients({ rows, cols: d, data: train.x.data.subarray(start * d, (start + rows) * d) }, train.y.subarray(start, start + rows))
        for (let k = 0; k < rows; k++) {
          const gi = g.data.subarray(k * p, (k + 1) * p)
          const i = start + k
          const r = inv.solve(gi.slice(), { check: i % 64 === 0 })
          if (E.isLeft(r)) return r
          products += r.right.report.hessianVectorProducts
          if (!Number.isNaN(r.right.report.relativeResidual)) worst = Math.max(worst, r.right.report.relativeResidual)
          values[start + k] = (dot(gi, r.right.x) + model.l2 * dot(theta, r.right.x)) / n
        }
      }
      return E.right({ values, method: inv.method, damping: inv.damping, hessianVectorProducts: products, worstResidual: worst })
    }),
  )

/** Training points ordered from most to least suspicious. */
export interface SuspiciousLabels extends SelfInfluence {
  /** Indices of the training points, largest self-influence first. */
  readonly order: Int32Array
}

/**
 * Rank training labels for inspection by self-influence (Koh & Liang §5.4): the top of the order
 * is where mislabels concentrate.
 *
 * @example
 * const { order } = unwrap(rankSuspiciousLabels(model, train, { method: 'exact' }))
 * const toInspect = order.subarray(0, Math.round(0.1 * order.length))
 */
export const rankSuspiciousLabels = (model: TwiceDifferentiable, train: Examples, options: InfluenceOptions = {}): E.Either<ProbeError, SuspiciousLabels> =>
  F.pipe(
    selfInfluence(model, train, options),
    E.map((self) => {
      const order = Int32Array.from({ length: self.values.length }, (_, i) => i).sort((a, b) => self.values[b]! - self.values[a]! || a - b)
      return { ...self, order }
    }),
  )

/** How moving each training input would change each test loss. */
export interface InputInfluence {
  /**
   * One matrix per test point a, a row per training point asked for (all of them by default,
   * else `options.rows` in that order): row j is the predicted gradient of test point a's loss
   * with respect to training input xⱼ, after refitting — Koh & Liang's I_pert,loss(zⱼ, z_test)
   * divided by n:  −(1/n) ∇_θ ℓ(z_test)ᵀ (H + λI)⁻¹ ∇ₓ∇_θ ℓ(zⱼ). Moving xⱼ by a small δ changes
   * the test loss by about rowⱼ · δ.
   */
  readonly gradients: readonly Matrix[]
  readonly sTest: Matrix
  readonly solves: readonly SolveReport[]
  readonly hessianVectorProducts: number
}

/** Options of {@link inputInfluence}. */
export interface InputInfluenceOptions extends InfluenceOptions {
  /** Only these training rows (the solve still uses the whole training set). Default: all. */
  readonly rows?: ArrayLike<number>
}

/**
 * I_pert,loss: the gradient of each test loss with respect to each training input, through
 * the refit (one s_test solve per test point, then one mixed-derivative pass over the training
 * rows asked for).
 *
 * @example
 * const pert = inputInfluence(model, train, test)
 */
export const inputInfluence = (model: TwiceDifferentiable, train: Examples, test: Examples, options: InputInfluenceOptions = {}): E.Either<ProbeError, InputInfluence> => {
  const n = train.x.rows
  const rows = options.rows
  if (rows !== undefined) {
    for (let k = 0; k < rows.length; k++) {
      if (!(Number.isInteger(rows[k]) && rows[k]! >= 0 && rows[k]! < n)) return E.left(errors.invalidOptions([{ path: `options.rows[${k}]`, message: `is ${rows[k]}; expected a training row in 0..${n - 1}` }]))
    }
  }
  const x = rows === undefined ? train.x : takeRows(train.x, rows)
  const y = rows === undefined ? train.y : Int32Array.from(rows, (j) => train.y[j]!)
  return F.pipe(
    sTestFor(model, train, test, options),
    E.map(({ inv, s, reports }) => {
      const gradients = Array.from({ length: test.x.rows }, (_, a) => {
        const m = model.mixedGradientProduct(x, y, s.data.slice(a * s.cols, (a + 1) * s.cols))
        for (let k = 0; k < m.data.length; k++) m.data[k] = -m.data[k]! / n
        return m
      })
      return { gradients, sTest: s, solves: reports, hessianVectorProducts: productsOf(inv, reports) }
    }),
  )
}
