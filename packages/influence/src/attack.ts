import { either as E } from 'fp-ts'
import { domainBounds, errors, takeRows, type Domain, type Matrix, type ProbeError } from '@sonde/oracle'
import type { FitOptions, TwiceDifferentiable } from '@sonde/models'
import type { Examples } from './inverse-hvp.js'
import { inputInfluence, validateExamples, type InfluenceOptions } from './influence.js'

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
   */
  readonly bounds?: Domain
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
}

const invalid = (path: string, message: string): E.Either<ProbeError, never> => E.left(errors.invalidOptions([{ path, message }]))

/** The label of each row: the class of smallest loss. */
const predictLabels = (model: TwiceDifferentiable, x: Matrix, classes: number): Int32Array => {
  const best = new Float64Array(x.rows).fill(Infinity)
  const out = new Int32Array(x.rows)
  for (let c = 0; c < classes; c++) {
    const l = model.losses(x, new Int32Array(x.rows).fill(c))
    for (let i = 0; i < x.rows; i++) {
      if (l[i]! < best[i]!) {
        best[i] = l[i]!
        out[i] = c
      }
    }
  }
  return out
}

/**
 * Koh & Liang's training-set attack (§5.2): for each target test point, perturb the
 * `perturbed` training images whose perturbation raises its loss most (by I_pert,loss) within an
 * L∞ box of radius `epsilon`, by signed-gradient steps, retraining the model after each step,
 * and report whether the target's prediction flips after that actual retraining. Labels are
 * never changed. Every target starts from the original training set.
 *
 * @example
 * const r = trainingSetAttack(model, train, test, { epsilon: 0.1, perturbed: 1, targets: [0, 1, 2] })
 */
export const trainingSetAttack = (
  model: TwiceDifferentiable,
  train: Examples,
  test: Examples,
  options: TrainingSetAttackOptions,
): E.Either<ProbeError, TrainingSetAttack> => {
  const info = (model as { readonly info?: { readonly numClasses?: number; readonly domain?: Domain } }).info
  const classes = info?.numClasses ?? Math.max(...train.y) + 1
  const eps = options.epsilon
  if (!(eps > 0 && Number.isFinite(eps))) return invalid('options.epsilon', `is ${eps}; expected a positive number`)
  const steps = options.steps ?? 10
  if (!(Number.isInteger(steps) && steps >= 1)) return invalid('options.steps', `is ${steps}; expected an integer ≥ 1`)
  const k = options.perturbed ?? 1
  if (!(Number.isInteger(k) && k >= 1 && k <= train.x.rows)) return invalid('options.perturbed', `is ${k}; expected an integer in 1..${train.x.rows}`)
  const alpha = options.stepSize ?? eps / 4
  if (!(alpha > 0)) return invalid('options.stepSize', `is ${alpha}; expected a positive number`)
  // Per-feature bounds: the attack once read only scalar domains and ignored per-feature ones.
  const d0 = train.x.cols
  const source = options.bounds ?? info?.domain
  for (const side of ['lower', 'upper'] as const) {
    const b = source?.[side]
    if (b instanceof Float64Array && b.length !== d0) return invalid(`options.bounds.${side}`, `has ${b.length} values; the inputs have ${d0} features`)
  }
  const { lower, upper } = domainBounds(source, d0)
  for (let q = 0; q < d0; q++) {
    if (!(lower[q]! < upper[q]!)) return invalid('options.bounds', `feature ${q}: lower ${lower[q]} is not below upper ${upper[q]}`)
  }
  const checked = validateExamples(model, test, 'test', train.x.cols)
  if (E.isLeft(checked)) return checked
  const before = predictLabels(model, test.x, classes)
  const targets = options.targets === undefined ? Array.from({ length: test.x.rows }, (_, i) => i).filter((i) => before[i] === test.y[i]) : Array.from(options.targets)
  for (const t of targets) {
    if (!(Number.isInteger(t) && t >= 0 && t < test.x.rows)) return invalid('options.targets', `row ${t} is outside 0..${test.x.rows - 1}`)
  }
  const d = train.x.cols
  const outcomes: AttackOutcome[] = []
  let retrains = 0
  for (const t of targets) {
    const target = { x: { rows: 1, cols: d, data: test.x.data.slice(t * d, (t + 1) * d) }, y: test.y.slice(t, t + 1) }
    const lossBefore = model.losses(target.x, target.y)[0]!
    // Pick the rows by the gradient at the original model: the linearised gain of a box step is ε‖g‖₁.
    const first = inputInfluence(model, train, target, options)
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
      for (const [r, j] of rows.entries()) {
        for (let q = 0; q < d; q++) {
          const o = j * d + q
          const orig = train.x.data[o]!
          const moved = data[o]! + alpha * Math.sign(current.grads.data[r * d + q]!)
          data[o] = Math.min(upper[q]!, Math.max(lower[q]!, Math.min(orig + eps, Math.max(orig - eps, moved))))
        }
      }
      const poisoned: Examples = { x: { rows: train.x.rows, cols: d, data }, y: train.y }
      const refit = current.model.refit(poisoned.x, poisoned.y, options.fit)
      used++
      if (E.isLeft(refit)) return refit
      current.model = refit.right.model
      label = predictLabels(current.model, target.x, classes)[0]!
      if (label !== target.y[0]) break
      if (step + 1 < steps) {
        const next = inputInfluence(current.model, poisoned, target, { ...options, rows })
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
  return E.right({ outcomes, attempted: outcomes.length, flipped, fraction: outcomes.length === 0 ? 0 : flipped / outcomes.length, retrains })
}
