import { either as E, taskEither as TE } from 'fp-ts'
import { domainBounds, noQueries, stage, takeRows, type Domain, type Matrix, type ProbeError, type QueryUsage } from '@sonde/oracle'
import { refitWith, type FitOptions, type TwiceDifferentiable } from '@sonde/models'
import { checkNumber, checkObject, checkRenamed, controlOf, guarded, invalidOption, labelsByLoss, modelShape, validateExamples, validateModel } from './common.js'
import { validateInverseHvpOptions, type Examples } from './inverse-hvp.js'
import { inputInfluence, validateRows, type InfluenceOptions } from './influence.js'

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
}

/** What happened to one target. */
export interface AttackOutcome {
  readonly testRow: number
  /** The training rows perturbed. */
  readonly trainRows: Int32Array
  /** The perturbed training images (one row per entry of `trainRows`). */
  readonly images: Matrix
  /** Largest |change| of any pixel: ≤ epsilon. */
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
 * @example
 * const r = await toPromise(trainingSetAttack(model, train, test, { epsilon: 0.1, perturbed: 1, targets: [0, 1, 2] }))
 */
export const trainingSetAttack = (model: TwiceDifferentiable, train: Examples, test: Examples, options: TrainingSetAttackOptions): TE.TaskEither<ProbeError, TrainingSetAttack> =>
  guarded(async () => {
    const mv = validateModel(model)
    if (E.isLeft(mv)) return mv
    const o0 = checkObject(options)
    if (E.isLeft(o0)) return o0
    const renamed = checkRenamed(options, { bounds: 'domain', tol: 'tolerance' })
    if (E.isLeft(renamed)) return renamed
    const shape = modelShape(model)
    const tr = validateExamples(train, 'train', shape.inputDim, shape.numClasses)
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
    const box = validateDomain(options.domain ?? info?.domain, d)
    if (E.isLeft(box)) return box
    const { lower, upper } = box.right
    const targetsOk = validateRows(options.targets, test.x.rows, 'options.targets')
    if (E.isLeft(targetsOk)) return targetsOk
    const fitOk = validateFit(options.fit, model.numParams)
    if (E.isLeft(fitOk)) return fitOk
    const seed = validateInverseHvpOptions(options, train.x.rows)
    if (E.isLeft(seed)) return seed
    const control = controlOf(options)
    const before = labelsByLoss(model, test.x, classes)
    const targets = options.targets === undefined ? Array.from({ length: test.x.rows }, (_, i) => i).filter((i) => before[i] === test.y[i]) : Array.from(options.targets)
    const outcomes: AttackOutcome[] = []
    let retrains = 0
    const progress = stage(control, 'attack', targets.length)
    // The solver's own progress events go to the caller too; its abort checks see the same signal.
    const solver: InfluenceOptions = { ...options }
    for (const [done, t] of targets.entries()) {
      const ok = await progress.tick(done)
      if (E.isLeft(ok)) return ok
      const target = { x: { rows: 1, cols: d, data: test.x.data.slice(t * d, (t + 1) * d) }, y: test.y.slice(t, t + 1) }
      const lossBefore = model.losses(target.x, target.y)[0]!
      // Pick the rows by the gradient at the original model: the linearised gain of a box step is ε‖g‖₁.
      const first = await inputInfluence(model, train, target, solver)()
      if (E.isLeft(first)) return first
      const g0 = first.right.gradients[0]!
      const gain = Array.from({ length: train.x.rows }, (_, j) => {
        let s = 0
        for (let q = 0; q < d; q++) s += Math.abs(g0.data[j * d + q]!)
        return s
      })
      const rows = Int32Array.from(
        Array.from({ length: train.x.rows }, (_, j) => j)
          .sort((a, b) => gain[b]! - gain[a]! || a - b)
          .slice(0, k),
      )
      const data = train.x.data.slice()
      // From here on only the chosen rows' gradients are needed: one row each, in `rows` order.
      const current: { model: TwiceDifferentiable; grads: Matrix } = { model, grads: takeRows(g0, rows) }
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
        const poisoned: Examples = { x: { rows: train.x.rows, cols: d, data }, y: train.y }
        // Abortable between optimiser steps where the model can (refitTask); an abort is seen within a step.
        const refit = await refitWith(current.model, poisoned.x, poisoned.y, { ...options.fit, ...controlOf(options) })()
        used++
        if (E.isLeft(refit)) return refit
        current.model = refit.right.model
        label = labelsByLoss(current.model, target.x, classes)[0]!
        if (label !== target.y[0]) break
        if (step + 1 < steps) {
          const next = await inputInfluence(current.model, poisoned, target, { ...solver, rows })()
          if (E.isLeft(next)) return next
          current.grads = next.right.gradients[0]!
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
