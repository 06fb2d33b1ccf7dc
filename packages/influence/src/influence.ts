import { either as E, taskEither as TE } from 'fp-ts'
import { errors, noQueries, stage, takeRows, type Matrix, type ProbeError, type QueryUsage, type RunControl } from '@sonde/oracle'
import { dot, type TwiceDifferentiable } from '@sonde/models'
import { checkObject, controlOf, guarded, invalidOption, modelShape, validateExamples, validateModel } from './common.js'
import { prepareChecked, validateInverseHvpOptions, type Examples, type InverseHvp, type InverseHvpMethod, type InverseHvpOptions, type SolveReport } from './inverse-hvp.js'

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
  /** Oracle queries spent: none (white-box work on the model's parameters). */
  readonly queries: QueryUsage
  /** The seed: LiSSA's draws, or recorded (0 by default) for `'exact'` and `'cg'`, which make no random choice. */
  readonly seed: number
}

/** Options of {@link influenceOnTest}, {@link selfInfluence} and {@link inputInfluence}. */
export type InfluenceOptions = InverseHvpOptions

/** Validate the model, train, test and options, then prepare the solver: every check before any work. */
const prepare = async (
  model: TwiceDifferentiable,
  train: Examples,
  test: Examples | undefined,
  options: InfluenceOptions,
  extra: () => E.Either<ProbeError, void> = () => E.right(undefined),
): Promise<E.Either<ProbeError, InverseHvp>> => {
  const m = validateModel(model)
  if (E.isLeft(m)) return m
  const shape = modelShape(model)
  const tr = validateExamples(train, 'train', shape.inputDim, shape.numClasses)
  if (E.isLeft(tr)) return tr
  if (train.x.rows === 0) return E.left(errors.invalidInput('train has no rows', 'train'))
  if (test !== undefined) {
    const te = validateExamples(test, 'test', train.x.cols, shape.numClasses)
    if (E.isLeft(te)) return te
    if (test.x.rows === 0) return E.left(errors.invalidInput('test has no rows', 'test'))
  }
  const seed = validateInverseHvpOptions(options, train.x.rows)
  if (E.isLeft(seed)) return seed
  const more = extra()
  if (E.isLeft(more)) return more
  return prepareChecked(model, train, options, seed.right)
}

/** s_test for every row of `grads` (t × p), stopping at the first failed solve; progress per solve. */
const solveRows = async (inv: InverseHvp, grads: Matrix, control: RunControl): Promise<E.Either<ProbeError, { readonly s: Matrix; readonly reports: SolveReport[] }>> => {
  const p = grads.cols
  const s = new Float64Array(grads.rows * p)
  const reports: SolveReport[] = []
  const progress = stage(control, 's_test', grads.rows)
  for (let a = 0; a < grads.rows; a++) {
    const ok = await progress.tick(a)
    if (E.isLeft(ok)) return ok
    const r = await inv.solve(grads.data.slice(a * p, (a + 1) * p), control)()
    if (E.isLeft(r)) return r
    s.set(r.right.x, a * p)
    reports.push(r.right.report)
  }
  return E.right({ s: { rows: grads.rows, cols: p, data: s }, reports })
}

/** Validate, prepare the solver, and solve s_test for every test row. */
const sTestFor = async (
  model: TwiceDifferentiable,
  train: Examples,
  test: Examples,
  options: InfluenceOptions,
  extra?: () => E.Either<ProbeError, void>,
): Promise<E.Either<ProbeError, { readonly inv: InverseHvp; readonly s: Matrix; readonly reports: SolveReport[] }>> => {
  const inv = await prepare(model, train, test, options, extra)
  if (E.isLeft(inv)) return inv
  const grads = model.perExampleGradients(test.x, test.y)
  const bad = checkMatrix(grads, test.x.rows, model.numParams, 'perExampleGradients')
  if (E.isLeft(bad)) return bad
  const solved = await solveRows(inv.right, grads, controlOf(options))
  return E.isLeft(solved) ? solved : E.right({ inv: inv.right, ...solved.right })
}

/** A matrix the model returned: the shape asked for and finite, else `BadResponse`. */
const checkMatrix = (m: Matrix, rows: number, cols: number, what: string): E.Either<ProbeError, void> => {
  if (m === null || typeof m !== 'object' || !(m.data instanceof Float64Array) || m.rows !== rows || m.cols !== cols || m.data.length !== rows * cols) {
    return E.left(errors.badResponse(`the model's ${what} is not a ${rows} × ${cols} matrix`))
  }
  const bad = m.data.findIndex((v) => !Number.isFinite(v))
  return bad >= 0 ? E.left(errors.badResponse(`the model's ${what} is not finite at row ${Math.floor(bad / cols)}, column ${bad % cols} (${m.data[bad]})`)) : E.right(undefined)
}

const productsOf = (inv: InverseHvp, reports: readonly SolveReport[]): number =>
  reports.reduce((acc, r) => acc + r.hessianVectorProducts, inv.preparationProducts)

/**
 * The removal scores of every training point from s_test vectors you already have (t × p, e.g.
 * from {@link prepareInverseHvp}): (1/n) (s_aᵀ ∇ℓⱼ + λ₂ s_aᵀθ̂) — see {@link InfluenceScores.scores}.
 * One `gradientProducts` pass; this is the second half of {@link influenceOnTest}. Pure and quick (no
 * solve): `InvalidInput`/`ShapeMismatch` for bad arguments, `BadResponse` if the model answers non-finite.
 *
 * @example
 * // fragment: a fitted model, its training set and an s_test vector (see prepareInverseHvp)
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { scoresFromSTest, type Examples } from '@sonde/influence'
 *
 * declare const model: TwiceDifferentiable
 * declare const train: Examples
 * declare const s: Float64Array
 * const scores = scoresFromSTest(model, train, { rows: 1, cols: s.length, data: s }) // Right(1 × n)
 */
export const scoresFromSTest = (model: TwiceDifferentiable, train: Examples, sTest: Matrix): E.Either<ProbeError, Matrix> => {
  try {
    const m = validateModel(model)
    if (E.isLeft(m)) return m
    const tr = validateExamples(train, 'train', modelShape(model).inputDim, modelShape(model).numClasses)
    if (E.isLeft(tr)) return tr
    const st = validateExamples({ x: sTest, y: new Int32Array((sTest as Partial<Matrix> | null)?.rows ?? 0) }, 'sTest', model.numParams, undefined)
    if (E.isLeft(st)) return st
    return E.right(scoresOf(model, train, sTest))
  } catch (cause) {
    return E.left(errors.pluginFailed('the model', `a method of the white-box model threw: ${cause instanceof Error ? cause.message : String(cause)}`, cause))
  }
}

const scoresOf = (model: TwiceDifferentiable, train: Examples, sTest: Matrix): Matrix => {
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
 * Async: progress per solve and per CG iteration / LiSSA step / Hessian row; `options.signal` stops it with
 * `Aborted`. No oracle queries (`queries` is zero); `seed` is echoed (required for LiSSA).
 *
 * @example
 * // fragment: a fitted model, its training set and one test digit
 * import { toPromise, type Matrix } from '@sonde/oracle'
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { influenceOnTest, mostInfluential, type Examples } from '@sonde/influence'
 *
 * declare const model: TwiceDifferentiable
 * declare const train: Examples
 * declare const digit: Matrix // 1 × 784
 * const infl = await toPromise(influenceOnTest(model, train, { x: digit, y: Int32Array.of(9) }, { method: 'cg' }))
 * const harmful = mostInfluential(infl, 0, 5, 'harmful') // Right(the 5 training rows whose removal helps most)
 */
export const influenceOnTest = (model: TwiceDifferentiable, train: Examples, test: Examples, options: InfluenceOptions = {}): TE.TaskEither<ProbeError, InfluenceScores> =>
  guarded(async () => {
    const solved = await sTestFor(model, train, test, options)
    if (E.isLeft(solved)) return solved
    const { inv, s, reports } = solved.right
    const scores = scoresOf(model, train, s)
    const bad = checkMatrix(scores, s.rows, train.x.rows, 'gradientProducts (the scores)')
    if (E.isLeft(bad)) return bad
    return E.right({
      scores,
      sTest: s,
      testLosses: model.losses(test.x, test.y),
      method: inv.method,
      damping: inv.damping,
      ...(inv.scale !== undefined ? { scale: inv.scale } : {}),
      solves: reports,
      hessianVectorProducts: productsOf(inv, reports),
      queries: noQueries,
      seed: inv.seed,
    })
  })

/**
 * Indices of the `count` training points with the largest influence on test point `testRow`:
 * `'helpful'` (largest positive scores: removing them hurts most), `'harmful'` (most negative)
 * or `'absolute'` (largest |score|). Ties go to the lower index. `InvalidOptions` for a test row outside
 * the scores or a count that is not an integer ≥ 0.
 *
 * @example
 * import { fromRows } from '@sonde/oracle'
 * import { mostInfluential } from '@sonde/influence'
 *
 * const scores = fromRows([[0.3, -0.5, 0.1, -0.2]]) // one test point × four training points
 * const harmful = mostInfluential({ scores }, 0, 2, 'harmful') // Right(Int32Array [1, 3])
 */
export const mostInfluential = (
  influence: Pick<InfluenceScores, 'scores'>,
  testRow: number,
  count: number,
  direction: 'helpful' | 'harmful' | 'absolute' = 'absolute',
): E.Either<ProbeError, Int32Array> => {
  const scores = (influence as Partial<Pick<InfluenceScores, 'scores'>> | null)?.scores
  if (scores === undefined || scores === null || !(scores.data instanceof Float64Array) || scores.data.length !== scores.rows * scores.cols) {
    return E.left(errors.invalidInput('influence.scores is not a Matrix (t × n scores)', 'influence.scores'))
  }
  if (!(Number.isInteger(testRow) && testRow >= 0 && testRow < scores.rows)) return invalidOption('testRow', `is ${String(testRow)}; expected 0..${scores.rows - 1}`)
  if (!(Number.isInteger(count) && count >= 0)) return invalidOption('count', `is ${String(count)}; expected an integer ≥ 0`)
  if (direction !== 'helpful' && direction !== 'harmful' && direction !== 'absolute') return invalidOption('direction', `is ${String(direction)}; expected 'helpful', 'harmful' or 'absolute'`)
  const n = scores.cols
  const row = scores.data.subarray(testRow * n, (testRow + 1) * n)
  const key = direction === 'helpful' ? (j: number) => row[j]! : direction === 'harmful' ? (j: number) => -row[j]! : (j: number) => Math.abs(row[j]!)
  // NaN keys sort last, never ahead of a real score.
  const k = (j: number): number => (Number.isNaN(key(j)) ? -Infinity : key(j))
  const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => k(b) - k(a) || a - b)
  return E.right(Int32Array.from(order.slice(0, Math.min(count, n))))
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
  /** Oracle queries spent: none. */
  readonly queries: QueryUsage
  readonly seed: number
}

/** Rows per chunk of per-example gradients (bounds memory at chunk × p). */
const CHUNK = 256

/**
 * Self-influence of every training point: n inverse-Hessian solves (one Cholesky factor and n
 * triangular solves with `'exact'`, the cheapest choice when p is a few thousand). Progress per solve
 * (`'self-influence'`, i of n); `options.signal` stops it with `Aborted`.
 *
 * @example
 * // fragment: a fitted model and its training set
 * import { toPromise } from '@sonde/oracle'
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { selfInfluence, type Examples } from '@sonde/influence'
 *
 * declare const model: TwiceDifferentiable
 * declare const train: Examples
 * const self = await toPromise(selfInfluence(model, train, { method: 'exact' }))
 */
export const selfInfluence = (model: TwiceDifferentiable, train: Examples, options: InfluenceOptions = {}): TE.TaskEither<ProbeError, SelfInfluence> =>
  guarded(async () => {
    const prepared = await prepare(model, train, undefined, options)
    if (E.isLeft(prepared)) return prepared
    const inv = prepared.right
    const control = controlOf(options)
    const n = train.x.rows
    const d = train.x.cols
    const p = model.numParams
    const theta = model.params()
    const values = new Float64Array(n)
    let products = inv.preparationProducts
    let worst = 0
    const progress = stage(control, 'self-influence', n)
    for (let start = 0; start < n; start += CHUNK) {
      const rows = Math.min(CHUNK, n - start)
      const g = model.perExampleGradients({ rows, cols: d, data: train.x.data.subarray(start * d, (start + rows) * d) }, train.y.subarray(start, start + rows))
      const bad = checkMatrix(g, rows, p, 'perExampleGradients')
      if (E.isLeft(bad)) return bad
      for (let k = 0; k < rows; k++) {
        const i = start + k
        const ok = await progress.tick(i)
        if (E.isLeft(ok)) return ok
        const gi = g.data.subarray(k * p, (k + 1) * p)
        const r = await inv.solve(gi.slice(), { ...control, check: i % 64 === 0 })()
        if (E.isLeft(r)) return r
        products += r.right.report.hessianVectorProducts
        if (!Number.isNaN(r.right.report.relativeResidual)) worst = Math.max(worst, r.right.report.relativeResidual)
        values[i] = (dot(gi, r.right.x) + model.l2 * dot(theta, r.right.x)) / n
      }
    }
    const done = progress.check(n)
    if (E.isLeft(done)) return done
    return E.right({ values, method: inv.method, damping: inv.damping, hessianVectorProducts: products, worstResidual: worst, queries: noQueries, seed: inv.seed })
  })

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
 * // fragment: a fitted model and its training set
 * import { toPromise } from '@sonde/oracle'
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { rankSuspiciousLabels, type Examples } from '@sonde/influence'
 *
 * declare const model: TwiceDifferentiable
 * declare const train: Examples
 * const { order } = await toPromise(rankSuspiciousLabels(model, train, { method: 'exact' }))
 * const toInspect = order.subarray(0, Math.round(0.1 * order.length)) // the most suspicious tenth
 */
export const rankSuspiciousLabels = (model: TwiceDifferentiable, train: Examples, options: InfluenceOptions = {}): TE.TaskEither<ProbeError, SuspiciousLabels> =>
  TE.map((self: SelfInfluence) => {
    const order = Int32Array.from({ length: self.values.length }, (_, i) => i).sort((a, b) => self.values[b]! - self.values[a]! || a - b)
    return { ...self, order }
  })(selfInfluence(model, train, options))

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
  /** Oracle queries spent: none. */
  readonly queries: QueryUsage
  readonly seed: number
}

/** Options of {@link inputInfluence}. */
export interface InputInfluenceOptions extends InfluenceOptions {
  /** Only these training rows (the solve still uses the whole training set). Default: all. */
  readonly rows?: ArrayLike<number>
}

/** `options.rows`: training rows in 0..n−1, when given. */
export const validateRows = (rows: unknown, n: number, path = 'options.rows'): E.Either<ProbeError, void> => {
  if (rows === undefined) return E.right(undefined)
  if (!(Array.isArray(rows) || ArrayBuffer.isView(rows))) return invalidOption(path, `is ${rows === null ? 'null' : typeof rows}; expected an array of training rows`)
  const r = rows as ArrayLike<unknown>
  for (let k = 0; k < r.length; k++) {
    const v = r[k]
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < n)) return invalidOption(`${path}[${k}]`, `is ${String(v)}; expected a training row in 0..${n - 1}`)
  }
  return E.right(undefined)
}

/**
 * I_pert,loss: the gradient of each test loss with respect to each training input, through
 * the refit (one s_test solve per test point, then one mixed-derivative pass over the training
 * rows asked for).
 *
 * @example
 * // fragment: a fitted model, its training set and test points
 * import { toPromise } from '@sonde/oracle'
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { inputInfluence, type Examples } from '@sonde/influence'
 *
 * declare const model: TwiceDifferentiable
 * declare const train: Examples
 * declare const test: Examples
 * const pert = await toPromise(inputInfluence(model, train, test))
 */
export const inputInfluence = (model: TwiceDifferentiable, train: Examples, test: Examples, options: InputInfluenceOptions = {}): TE.TaskEither<ProbeError, InputInfluence> =>
  guarded(async () => {
    const o = checkObject(options)
    if (E.isLeft(o)) return o
    const rows = options.rows
    const solved = await sTestFor(model, train, test, options, () => validateRows(rows, train.x.rows))
    if (E.isLeft(solved)) return solved
    const n = train.x.rows
    const { inv, s, reports } = solved.right
    const x = rows === undefined ? train.x : takeRows(train.x, rows)
    const y = rows === undefined ? train.y : Int32Array.from(rows, (j) => train.y[j]!)
    const progress = stage(controlOf(options), 'input influence', test.x.rows)
    const gradients: Matrix[] = []
    for (let a = 0; a < test.x.rows; a++) {
      const ok = await progress.tick(a)
      if (E.isLeft(ok)) return ok
      const m = model.mixedGradientProduct(x, y, s.data.slice(a * s.cols, (a + 1) * s.cols))
      const bad = checkMatrix(m, x.rows, x.cols, 'mixedGradientProduct')
      if (E.isLeft(bad)) return bad
      for (let k = 0; k < m.data.length; k++) m.data[k] = -m.data[k]! / n
      gradients.push(m)
    }
    return E.right({ gradients, sTest: s, solves: reports, hessianVectorProducts: productsOf(inv, reports), queries: noQueries, seed: inv.seed })
  })
