import { either as E, type taskEither as TE } from 'fp-ts'
import { errors, takeRows, type Domain, type Matrix, type ProbeError } from '@sonde/oracle'
import type { TwiceDifferentiable } from '@sonde/models'
import { checkObject, guarded, invalidOption, validateExamples, type Examples } from './common.js'
import { inputInfluence, validateRows, type InputInfluence, type InputInfluenceOptions } from './influence.js'

/**
 * A frozen, differentiable feature map φ from inputs (e.g. pixels, d per row) to features (m per row), the
 * input of a white-box model trained on top of it — Koh & Liang's frozen Inception features under a logistic
 * regression. Rows are independent: row i of the output depends on row i of the input only.
 *
 * Plain typed arrays in and out (no tensors cross this boundary); `featureMapFromTfjs` in
 * `@sonde/influence/tfjs` builds one from a tfjs network, and any other implementation (float64, remote)
 * works the same. Either method may return a promise.
 */
export interface FeatureMap {
  /** Columns of an input row (d). */
  readonly inputDim: number
  /** Columns of a feature row (m): the input dimension of the model trained on the features. */
  readonly outputDim: number
  /** φ(xᵢ) for every row of `x` (n × d): n × m. */
  readonly map: (x: Matrix) => Matrix | Promise<Matrix>
  /**
   * The Jacobian's transpose applied row by row: row i is ∇ₓ(vᵢ · φ(xᵢ)) = J_φ(xᵢ)ᵀ vᵢ, for x (n × d) and
   * cotangents v (n × m): n × d. This is what carries a feature-space gradient back to the inputs.
   */
  readonly pullback: (x: Matrix, v: Matrix) => Matrix | Promise<Matrix>
  /** The inputs' domain (e.g. pixels in [0, 1]), when known: the attack keeps perturbed inputs in it. */
  readonly domain?: Domain
}

/** The shape of a feature map from a caller (a JavaScript caller may pass anything). */
export const validateFeatureMap = (f: unknown, path = 'options.features'): E.Either<ProbeError, FeatureMap> => {
  const o = checkObject(f, path)
  if (E.isLeft(o)) return o
  const m = f as Partial<FeatureMap>
  for (const k of ['inputDim', 'outputDim'] as const) {
    const v = m[k]
    if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 1)) return invalidOption(`${path}.${k}`, `is ${String(v)}; expected an integer ≥ 1`)
  }
  for (const k of ['map', 'pullback'] as const) {
    if (typeof m[k] !== 'function') return invalidOption(`${path}.${k}`, `is ${typeof m[k]}; expected a function`)
  }
  return E.right(f as FeatureMap)
}

/** What a feature map returned: `rows × cols` and finite, else `BadResponse`. */
export const checkMapped = (m: Matrix, rows: number, cols: number, what: string): E.Either<ProbeError, Matrix> => {
  if (m === null || typeof m !== 'object' || !(m.data instanceof Float64Array) || m.rows !== rows || m.cols !== cols || m.data.length !== rows * cols) {
    return E.left(errors.badResponse(`the feature map's ${what} is not a ${rows} × ${cols} matrix of Float64Array`))
  }
  const bad = m.data.findIndex((v) => !Number.isFinite(v))
  return bad >= 0 ? E.left(errors.badResponse(`the feature map's ${what} is not finite at row ${Math.floor(bad / cols)}, column ${bad % cols} (${m.data[bad]})`)) : E.right(m)
}

/** φ(x), checked. */
export const mapChecked = async (f: FeatureMap, x: Matrix): Promise<E.Either<ProbeError, Matrix>> => checkMapped(await f.map(x), x.rows, f.outputDim, 'map')

/** J_φᵀ v row by row, checked. */
export const pullbackChecked = async (f: FeatureMap, x: Matrix, v: Matrix): Promise<E.Either<ProbeError, Matrix>> => checkMapped(await f.pullback(x, v), x.rows, f.inputDim, 'pullback')

/** Options of {@link inputInfluenceThrough}: those of `inputInfluence` (`rows` included). */
export type InputInfluenceThroughOptions = InputInfluenceOptions

/**
 * I_pert,loss through a frozen feature map: the gradient of each test loss with respect to each training
 * *input* (e.g. pixels), after refitting, for a model fit on φ(train.x). The feature-space gradient of
 * {@link inputInfluence} (on φ(train.x), φ(test.x)) pulled back through the features' Jacobian:
 * row j of matrix a is −(1/n) J_φ(xⱼ)ᵀ ∇_φ[∇_θ ℓ(z_test,a)ᵀ (H + λI)⁻¹ ∇_θ ℓ(φ(xⱼ), yⱼ)]. Moving xⱼ by a small
 * δ changes test loss a by about rowⱼ · δ. `train` and `test` hold inputs (`features.inputDim` columns).
 *
 * @example
 * // fragment: a model fit on frozen features of the training images, and those features
 * import { toPromise, type Matrix } from '@sonde/oracle'
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { inputInfluenceThrough, type FeatureMap } from '@sonde/influence'
 * declare const model: TwiceDifferentiable // fit on features.map(train.x)
 * declare const features: FeatureMap
 * declare const train: { x: Matrix; y: Int32Array }
 * declare const test: { x: Matrix; y: Int32Array }
 * const pert = await toPromise(inputInfluenceThrough(model, train, test, features, { rows: [0, 1] }))
 * console.log(pert.gradients[0]!.cols === features.inputDim) // true: one gradient per pixel
 */
export const inputInfluenceThrough = (model: TwiceDifferentiable, train: Examples, test: Examples, features: FeatureMap, options: InputInfluenceThroughOptions = {}): TE.TaskEither<ProbeError, InputInfluence> =>
  guarded(async () => {
    const fv = validateFeatureMap(features, 'features')
    if (E.isLeft(fv)) return fv
    const tr = validateExamples(train, 'train', features.inputDim, undefined)
    if (E.isLeft(tr)) return tr
    const te = validateExamples(test, 'test', features.inputDim, undefined)
    if (E.isLeft(te)) return te
    const rowsOk = validateRows(options.rows, train.x.rows)
    if (E.isLeft(rowsOk)) return rowsOk
    const ft = await mapChecked(features, train.x)
    if (E.isLeft(ft)) return ft
    const fs = await mapChecked(features, test.x)
    if (E.isLeft(fs)) return fs
    const r = await inputInfluence(model, { x: ft.right, y: train.y }, { x: fs.right, y: test.y }, options)()
    if (E.isLeft(r)) return r
    const inputs = options.rows === undefined ? train.x : takeRows(train.x, options.rows)
    const gradients: Matrix[] = []
    for (const g of r.right.gradients) {
      const back = await pullbackChecked(features, inputs, g)
      if (E.isLeft(back)) return back
      gradients.push(back.right)
    }
    return E.right({ ...r.right, gradients })
  })
