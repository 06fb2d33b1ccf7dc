import { either as E, taskEither as TE } from 'fp-ts'
import { domainBounds, errors, noQueries, stage, takeRows, type Domain, type Matrix, type ProbeError, type QueryUsage } from '@sonde/oracle'
import { refitWith, type FitOptions, type TwiceDifferentiable } from '@sonde/models'
import { checkNumber, checkObject, checkRenamed, controlOf, guarded, invalidOption, labelsByLoss, modelShape, validateExamples, validateModel } from './common.js'
import { validateInverseHvpOptions, type Examples } from './inverse-hvp.js'
import { inputInfluence, validateRows, type InfluenceOptions } from './influence.js'
import { mapChecked, pullbackChecked, validateFeatureMap, type FeatureMap } from './features.js'

/** Options of {@link trainingSetAttack}. */
export interface TrainingSetAttackOptions extends InfluenceOptions {
  /** Test rows to attack, one at a time. Default: every test row the model classifies correctly. */
  readonly targets?: ArrayLike<number>
  /** Training images perturbed per target (the ones whose perturbation moves its loss most). Default 1. */
  readonly perturbed?: number
  /** L∞ radius of each perturbation around the original training image (required, > 0). */
  readonly epsilon: number
  /** Signed-gradient steps, each followed by retraining. Default 10. */
  readonly steps?: number
  /** Size of each step. Default epsilon / 4. */
  readonly stepSize?: number
  /**
   * The input domain, kept by every perturbed image: one bound for every feature or one per feature
   * (a `Domain`). Default: the model's `info.domain` if any (per feature too), else unbounded.
   * (Was `bounds`.)
   */
  readonly domain?: Domain
  /** Options of each retraining (`refit`, warm-started). */
  readonly fit?: FitOptions
  /**
   * A frozen feature map φ the model is trained on (Koh & Liang's setting: logistic regression on frozen
   * network features). Then `train` and `test` hold the *inputs* (e.g. pixels), the model sees φ of them
   * (it must be fit on φ(train.x)), and the attack perturbs the inputs: I_pert,loss reaches them through
   * the features' Jacobian, ∇ₓ = J_φ(x)ᵀ ∇_φ, and every retraining re-maps the perturbed images. The
   * domain defaults to `features.domain` (not the model's, which is about features). Default: none (the
   * model reads the inputs directly).
   */
  readonly features?: FeatureMap
  /**
   * With `features`: how many training rows are pulled back to the inputs to choose the perturbed ones —
   * the rows of largest feature-space I_pert (‖∇_φ‖₂); pulling every row back through a network costs a
   * backward pass over the training set per target. Default: every row (the exact choice by ε‖∇ₓ‖₁).
   */
  readonly candidates?: number
}

/** What happened to one target. */
export interface AttackOutcome {
  readonly testRow: number
  /** The training rows perturbed. */
  readonly trainRows: Int32Array
  /** The perturbed training images (one row per entry of `trainRows`). */
  readonly images: Matrix
  /** Largest |change| of any pixel (input): ≤ epsilon. */
  readonly linf: number
  readonly labelBefore: number
  /** The label after the last retraining. */
  readonly labelAfter: number
  /** True when the retrained model's label differs from the test point's (correct) label. */
  readonly flipped: boolean
  readonly testLossBefore: number
  readonly testLossAfter: number
  /** Retrainings spent on this target. */
  readonly retrains: number
}

/** The result of {@link trainingSetAttack}. */
export interface TrainingSetAttack {
  readonly outcomes: readonly AttackOutcome[]
  readonly attempted: number
  /** Targets whose prediction flipped after actual retraining. */
  readonly flipped: number
  readonly fraction: number
  readonly retrains: number
  /** Oracle queries spent: none (the attack works on the white-box model and retrains it). */
  readonly queries: QueryUsage
  /** The seed (LiSSA's draws when `method: 'lissa'`; recorded otherwise). */
  readonly seed: number
}


/** The `count` rows of `g` of largest Euclidean norm (ties to the lower row), in that order. */
const largestRows = (g: Matrix, count: number): Int32Array => {
  const norms = Array.from({ length: g.rows }, (_, j) => {
    let s = 0
    for (let q = 0; q < g.cols; q++) s += g.data[j * g.cols + q]! ** 2
    return s
  })
  return Int32Array.from(
    Array.from(norms.keys())
      .sort((a, b) => norms[b]! - norms[a]! || a - b)
      .slice(0, count),
  )
}

/** `options.fit`: the retraining's options, checked before any work (the refit would refuse them late). */
const validateFit = (fit: unknown, p: number): E.Either<ProbeError, void> => {
  if (fit === undefined) return E.right(undefined)
  const o = checkObject(fit, 'options.fit')
  if (E.isLeft(o)) return o
  const f = fit as FitOptions
  for (const r of [
    checkNumber(f.l2, 'options.fit.l2', { min: 0 }),
    checkNumber(f.tol, 'options.fit.tol', { min: 0, strict: true }),
    checkNumber(f.maxIter, 'options.fit.maxIter', { min: 1, integer: true }),
  ]) {
    if (E.isLeft(r)) return r
  }
  if (f.warmStart !== undefined && !(f.warmStart instanceof Float64Array && f.warmStart.length === p)) return invalidOption('options.fit.warmStart', `expected a Float64Array of ${p} parameters`)
  return E.right(undefined)
}

/** The box every perturbed image stays in: per feature, lower < upper. */
const validateDomain = (source: Domain | undefined, d: number): E.Either<ProbeError, { readonly lower: Float64Array; readonly upper: Float64Array }> => {
  if (source !== undefined && (source === null || typeof source !== 'object')) return invalidOption('options.domain', `is ${String(source)}; expected { lower, upper }`)
  for (const side of ['lower', 'upper'] as const) {
    const b: unknown = source?.[side]
    if (b === undefined || typeof b === 'number') {
      if (typeof b === 'number' && Number.isNaN(b)) return invalidOption(`options.domain.${side}`, 'is NaN; expected a number')
      continue
    }
    if (!(b instanceof Float64Array)) return invalidOption(`options.domain.${side}`, `is ${b === null ? 'null' : typeof b}; expected a number or a Float64Array of ${d}`)
    if (b.length !== d) return invalidOption(`options.domain.${side}`, `has ${b.length} values; the inputs have ${d} features`)
    const nan = b.findIndex((v) => Number.isNaN(v))
    if (nan >= 0) return invalidOption(`options.domain.${side}[${nan}]`, 'is NaN; expected a number')
  }
  const { lower, upper } = domainBounds(source, d)
  for (let q = 0; q < d; q++) {
    if (!(lower[q]! < upper[q]!)) return invalidOption('options.domain', `feature ${q}: lower ${lower[q]} is not below upper ${upper[q]}`)
  }
  return E.right({ lower, upper })
}

/**
 * Koh & Liang's training-set attack (§5.2): for each target test point, perturb the
 * `perturbed` training images whose perturbation raises its loss most (by I_pert,loss) within an
 * L∞ box of radius `epsilon`, by signed-gradient steps, retraining the model after each step,
 * and report whether the target's prediction flips after that actual retraining. Labels are
 * never changed. Every target starts from the original training set. Every perturbed pixel stays in
 * `options.domain` (per feature). Progress per target and per step; `options.signal` stops it with `Aborted`.
 *
 * With `options.features` (a frozen {@link FeatureMap}, e.g. a tfjs CNN's penultimate layer from
 * `featureMapFromTfjs`), this is the paper's setting: the model is fit on φ(train.x), the attack perturbs the
 * training *pixels*, the gradient reaches them through the features' Jacobian, and every retraining is on the
 * re-mapped perturbed images.
 *
 * @example
 * // fragment: a model fit on frozen features of the training images, and those features
 * import { toPromise, type Matrix } from '@sonde/oracle'
 * import type { TwiceDifferentiable } from '@sonde/models'
 * import { trainingSetAttack, type FeatureMap } from '@sonde/influence'
 * declare const model: TwiceDifferentiable // fit on features.map(train.x)
 * declare const features: FeatureMap
 * declare const train: { x: Matrix; y: Int32Array }
 * declare const test: { x: Matrix; y: Int32Array }
 * const r = await toPromise(trainingSetAttack(model, train, test, { epsilon: 0.1, perturbed: 2, targets: [0, 1, 2], features }))
 * console.log(`${r.flipped} of ${r.attempted} flipped after retraining`)
 */
export const trainingSetAttack = (model: TwiceDifferentiable, train: Examples, test: Examples, options: TrainingSetAttackOptions): TE.TaskEither<ProbeError, TrainingSetAttack> =>
  guarded(async () => {
    const mv = validateModel(model)
    if (E.isLeft(mv)) return mv
    const o0 = checkObject(options)
    if (E.isLeft(o0)) return o0
    const renamed = checkRenamed(options, { bounds: 'domain', tol: 'tolerance' })
    if (E.isLeft(renamed)) return renamed
    const features = options.features
    if (features !== undefined) {
      const fv = validateFeatureMap(features)
      if (E.isLeft(fv)) return fv
    }
    const shape = modelShape(model)
    if (features !== undefined && shape.inputDim !== undefined && shape.inputDim !== features.outputDim) {
      return E.left(errors.shapeMismatch('options.features.outputDim', `${shape.inputDim} features (the model's input dimension)`, `${features.outputDim}`))
    }
    // The examples hold what is perturbed: the model's inputs, or the feature map's.
    const inputDim = features !== undefined ? features.inputDim : shape.inputDim
    const tr = validateExamples(train, 'train', inputDim, shape.numClasses)
    if (E.isLeft(tr)) return tr
    if (train.x.rows === 0) return invalidOption('train', 'has no rows')
    const te = validateExamples(test, 'test', train.x.cols, shape.numClasses)
    if (E.isLeft(te)) return te
    const info = (model as { readonly info?: { readonly numClasses?: number; readonly domain?: Domain } }).info
    const classes = info?.numClasses ?? Math.max(1, ...train.y, ...test.y) + 1
    const eps = options.epsilon
    if (!(typeof eps === 'number' && eps > 0 && Number.isFinite(eps))) return invalidOption('options.epsilon', `is ${String(eps)}; expected a positive number`)
    const steps = options.steps ?? 10
    if (!(Number.isInteger(steps) && steps >= 1)) return invalidOption('options.steps', `is ${String(steps)}; expected an integer ≥ 1`)
    const k = options.perturbed ?? 1
    if (!(Number.isInteger(k) && k >= 1 && k <= train.x.rows)) return invalidOption('options.perturbed', `is ${String(k)}; expected an integer in 1..${train.x.rows}`)
    const alpha = options.stepSize ?? eps / 4
    if (!(typeof alpha === 'number' && alpha > 0 && Number.isFinite(alpha))) return invalidOption('options.stepSize', `is ${String(alpha)}; expected a positive number`)
    // Per-feature bounds: the attack once read only scalar domains and ignored per-feature ones.
    const d = train.x.cols
    const box = validateDomain(options.domain ?? (features !== undefined ? features.domain : info?.domain), d)
    if (E.isLeft(box)) return box
    const { lower, upper } = box.right
    const targetsOk = validateRows(options.targets, test.x.rows, 'options.targets')
    if (E.isLeft(targetsOk)) return targetsOk
    const fitOk = validateFit(options.fit, model.numParams)
    if (E.isLeft(fitOk)) return fitOk
    const seed = validateInverseHvpOptions(options, train.x.rows)
    if (E.isLeft(seed)) return seed
    const n = train.x.rows
    const candidates = options.candidates ?? n
    if (!(Number.isInteger(candidates) && candidates >= k)) return invalidOption('options.candidates', `is ${String(candidates)}; expected an integer ≥ options.perturbed (${k})`)
    const control = controlOf(options)
    // What the model reads: φ of the inputs (computed once; only perturbed rows are mapped again), or the inputs.
    const mapped = async (x: Matrix): Promise<E.Either<ProbeError, Matrix>> => (features === undefined ? E.right(x) : mapChecked(features, x))
    const trainSeen = await mapped(train.x)
    if (E.isLeft(trainSeen)) return trainSeen
    const testSeen = await mapped(test.x)
    if (E.isLeft(testSeen)) return testSeen
    const m = trainSeen.right.cols
    const before = labelsByLoss(model, testSeen.right, classes)
    const targets = options.targets === undefined ? Array.from({ length: test.x.rows }, (_, i) => i).filter((i) => before[i] === test.y[i]) : Array.from(options.targets)
    const outcomes: AttackOutcome[] = []
    let retrains = 0
    const progress = stage(control, 'attack', targets.length)
    // The solver's own progress events go to the caller too; its abort checks see the same signal.
    const solver: InfluenceOptions = { ...options }
    /**
     * I_pert,loss / n with respect to the inputs of `rows` (all when undefined) at `current`, whose training
     * set as the model sees it is `seen`; `inputs` are those rows' inputs. Through φ: J_φᵀ of the feature-space one.
     */
    const influenceAt = async (current: TwiceDifferentiable, seen: Examples, target: Examples, rows?: Int32Array): Promise<E.Either<ProbeError, Matrix>> => {
      const r = await inputInfluence(current, seen, target, rows === undefined ? solver : { ...solver, rows })()
      return E.isLeft(r) ? r : E.right(r.right.gradients[0]!)
    }
    const toInputs = async (g: Matrix, inputs: Matrix): Promise<E.Either<ProbeError, Matrix>> => (features === undefined ? E.right(g) : pullbackChecked(features, inputs, g))
    const gradients = async (current: TwiceDifferentiable, seen: Examples, target: Examples, inputs: Matrix, rows: Int32Array): Promise<E.Either<ProbeError, Matrix>> => {
      const g = await influenceAt(current, seen, target, rows)
      return E.isLeft(g) ? g : toInputs(g.right, inputs)
    }
    for (const [done, t] of targets.entries()) {
      const ok = await progress.tick(done)
      if (E.isLeft(ok)) return ok
      const target = { x: takeRows(testSeen.right, [t]), y: test.y.slice(t, t + 1) }
      const lossBefore = model.losses(target.x, target.y)[0]!
      // Pick the rows by the gradient at the original model: the linearised gain of a box step is ε‖g‖₁.
      const first = await influenceAt(model, { x: trainSeen.right, y: train.y }, target)
      if (E.isLeft(first)) return first
      // Through φ, only the `candidates` rows of largest feature-space gradient are pulled back to the inputs.
      const pool = features === undefined || candidates >= n ? Int32Array.from({ length: n }, (_, j) => j) : largestRows(first.right, candidates)
      const pulled = await toInputs(pool.length === n ? first.right : takeRows(first.right, pool), pool.length === n ? train.x : takeRows(train.x, pool))
      if (E.isLeft(pulled)) return pulled
      const g0 = pulled.right
      const gain = Array.from(pool, (_, r) => {
        let s = 0
        for (let q = 0; q < d; q++) s += Math.abs(g0.data[r * d + q]!)
        return s
      })
      const order = Array.from(pool.keys())
        .sort((a, b) => gain[b]! - gain[a]! || pool[a]! - pool[b]!)
        .slice(0, k)
      const rows = Int32Array.from(order, (r) => pool[r]!)
      const data = train.x.data.slice()
      // The training set as the model sees it: only the chosen rows change (re-mapped after each step).
      const seenData = features === undefined ? data : trainSeen.right.data.slice()
      const poisoned: Examples = { x: { rows: train.x.rows, cols: d, data }, y: train.y }
      const seen: Examples = features === undefined ? poisoned : { x: { rows: train.x.rows, cols: m, data: seenData }, y: train.y }
      // From here on only the chosen rows' gradients are needed: one row each, in `rows` order.
      const current: { model: TwiceDifferentiable; grads: Matrix } = { model, grads: takeRows(g0, order) }
      let used = 0
      let label = before[t]!
      for (let step = 0; step < steps; step++) {
        const tick = await progress.tick(done)
        if (E.isLeft(tick)) return tick
        for (const [r, j] of rows.entries()) {
          for (let q = 0; q < d; q++) {
            const o = j * d + q
            const orig = train.x.data[o]!
            const moved = data[o]! + alpha * Math.sign(current.grads.data[r * d + q]!)
            data[o] = Math.min(upper[q]!, Math.max(lower[q]!, Math.min(orig + eps, Math.max(orig - eps, moved))))
          }
        }
        const inputs = takeRows(poisoned.x, rows)
        if (features !== undefined) {
          const f = await mapped(inputs)
          if (E.isLeft(f)) return f
          rows.forEach((j, r) => seenData.set(f.right.data.subarray(r * m, (r + 1) * m), j * m))
        }
        // Abortable between optimiser steps where the model can (refitTask); an abort is seen within a step.
        const refit = await refitWith(current.model, seen.x, seen.y, { ...options.fit, ...controlOf(options) })()
        used++
        if (E.isLeft(refit)) return refit
        current.model = refit.right.model
        label = labelsByLoss(current.model, target.x, classes)[0]!
        if (label !== target.y[0]) break
        if (step + 1 < steps) {
          const next = await gradients(current.model, seen, target, inputs, rows)
          if (E.isLeft(next)) return next
          current.grads = next.right
        }
      }
      retrains += used
      let linf = 0
      const images = new Float64Array(rows.length * d)
      rows.forEach((j, r) => {
        for (let q = 0; q < d; q++) {
          images[r * d + q] = data[j * d + q]!
          linf = Math.max(linf, Math.abs(data[j * d + q]! - train.x.data[j * d + q]!))
        }
      })
      outcomes.push({
        testRow: t,
        trainRows: rows,
        images: { rows: rows.length, cols: d, data: images },
        linf,
        labelBefore: before[t]!,
        labelAfter: label,
        flipped: label !== target.y[0],
        testLossBefore: lossBefore,
        testLossAfter: current.model.losses(target.x, target.y)[0]!,
        retrains: used,
      })
    }
    const flipped = outcomes.filter((o) => o.flipped).length
    return E.right({
      outcomes,
      attempted: outcomes.length,
      flipped,
      fraction: outcomes.length === 0 ? 0 : flipped / outcomes.length,
      retrains,
      queries: noQueries,
      seed: seed.right,
    })
  })
