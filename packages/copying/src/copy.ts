import { either as E, taskEither as TE, function as F } from 'fp-ts'
import { budget, createRng, errors, labelAgreement, meter, type Matrix, type Oracle, type ProbeError } from '@sonde/oracle'
import type { CopyFamily, TrainedCopy } from './families.js'
import { classBalance } from './metrics.js'
import { concatLabelled, type Labelled, type Sampler, type SamplerContext } from './samplers.js'

/** Options of {@link copyClassifier}. */
export interface CopyOptions {
  readonly sampler: Sampler
  /** Label queries to spend in all (the meter's count equals this exactly). */
  readonly samples: number
  /** The copy's family and hyper-parameters. */
  readonly copy: CopyFamily
  readonly seed: number
  /** Unlabelled points the user already has (real data), for data-driven samplers. */
  readonly reference?: Matrix
  /** Sequential rounds (the budget is split evenly); later rounds see the current copy. Default 1. */
  readonly rounds?: number
  /** Real points on which to report each round's agreement with the original (spends their rows too, once). */
  readonly monitor?: Matrix
}

/** What the copy's synthetic set and rounds looked like. */
export interface CopyDiagnostics {
  /** Share of each class in the synthetic set. */
  readonly classBalance: Float64Array
  /** The largest share, and its class. */
  readonly dominantShare: number
  readonly dominantClass: number
  /** Classes the synthetic set never contains. */
  readonly missingClasses: readonly number[]
  /** A person-readable warning when one class holds ≥ 95 % of the set or classes are missing; else undefined. */
  readonly warning?: string
  /** Per round: samples so far, agreement of the copy with its own training labels, and with the original on `monitor` (if given). */
  readonly rounds: ReadonlyArray<{ readonly samples: number; readonly trainingAgreement: number; readonly monitorAgreement?: number }>
  /** The synthetic set itself. */
  readonly synthetic: Labelled
}

/** The result of {@link copyClassifier}. */
export interface CopyResult {
  /** The copy: an oracle, trained by its family. */
  readonly copy: Oracle
  readonly trained: TrainedCopy
  readonly diagnostics: CopyDiagnostics
  /** Label queries spent on the synthetic set (= `samples`), plus `monitorRows` if a monitor was given. */
  readonly queries: { readonly labels: number; readonly monitorRows: number }
  readonly seed: number
}

/**
 * Copy a classifier from label queries alone (Unceta et al. 2020): draw a synthetic sample with
 * `sampler`, label it with the original, train a copy of family `copy`, and repeat for `rounds`
 * (later rounds can aim where the copy is unsure). Exactly `samples` label queries are spent,
 * enforced by a budget.
 *
 * The copy is only as good as its synthetic sample: `diagnostics` reports the class balance and
 * warns when one class holds (nearly) everything — uniform sampling of a high-dimensional input
 * often does — so you never get a constant copy without hearing about it.
 *
 * @example
 * const r = await toPromise(copyClassifier(blackBox, { sampler: jitter({ sigma: 0.1 }), samples: 20_000, copy: mlpCopy(), reference: digits, seed: 1 }))
 * r.diagnostics.warning, r.queries.labels
 */
export const copyClassifier = (oracle: Oracle, options: CopyOptions): TE.TaskEither<ProbeError, CopyResult> => {
  const rounds = options.rounds ?? 1
  const issues: { path: string; message: string }[] = []
  if (!(Number.isInteger(options.samples) && options.samples >= rounds && options.samples >= 1)) issues.push({ path: 'options.samples', message: `is ${options.samples}; expected an integer ≥ max(1, rounds)` })
  if (!(Number.isInteger(rounds) && rounds >= 1)) issues.push({ path: 'options.rounds', message: `is ${rounds}; expected a positive integer` })
  if (!Number.isSafeInteger(options.seed)) issues.push({ path: 'options.seed', message: `is ${typeof options.seed === 'string' ? JSON.stringify(options.seed) : String(options.seed)}; expected a safe integer` })
  if (options.reference !== undefined && options.reference.cols !== oracle.info.inputDim) issues.push({ path: 'options.reference', message: `has ${options.reference.cols} columns; the oracle expects ${oracle.info.inputDim}` })
  if (options.monitor !== undefined && options.monitor.cols !== oracle.info.inputDim) issues.push({ path: 'options.monitor', message: `has ${options.monitor.cols} columns; the oracle expects ${oracle.info.inputDim}` })
  if (issues.length > 0) return TE.left(errors.invalidOptions(issues))
  const info = oracle.info
  const k = Math.max(info.numClasses, 2)
  const labeller = F.pipe(oracle, budget(options.samples), meter)
  const rng = createRng(options.seed)
  const label = (x: Matrix): TE.TaskEither<ProbeError, Int32Array> => F.pipe(labeller.predict(x), TE.map((p) => p.labels))

  return async () => {
    const monitorLabels = options.monitor === undefined ? undefined : await oracle.predict(options.monitor)()
    if (monitorLabels !== undefined && E.isLeft(monitorLabels)) return monitorLabels
    let labelled: Labelled = { x: { rows: 0, cols: info.inputDim, data: new Float64Array(0) }, y: new Int32Array(0) }
    let trained: TrainedCopy | undefined
    const history: Array<{ samples: number; trainingAgreement: number; monitorAgreement?: number }> = []
    for (let r = 0; r < rounds; r++) {
      const n = Math.floor(options.samples / rounds) + (r < options.samples % rounds ? 1 : 0)
      const ctx: SamplerContext = {
        info,
        rng: rng.fork(),
        label,
        labelled,
        ...(options.reference !== undefined ? { reference: options.reference } : {}),
        ...(trained !== undefined ? { copy: trained.oracle } : {}),
      }
      const drawn = await options.sampler.draw(n, ctx)()
      if (E.isLeft(drawn)) return drawn
      if (drawn.right.y.length !== n) {
        return E.left(errors.pluginFailed(`sampler '${options.sampler.name}'`, `returned ${drawn.right.y.length} points for ${n} requested`))
      }
      labelled = concatLabelled(labelled, drawn.right)
      trained?.dispose()
      const fitted = await options.copy.fit(labelled.x, labelled.y, info, options.seed + r)()
      if (E.isLeft(fitted)) return fitted
      trained = fitted.right
      const own = await trained.oracle.predict(labelled.x)()
      if (E.isLeft(own)) return own
      let monitorAgreement: number | undefined
      if (monitorLabels !== undefined && options.monitor !== undefined && E.isRight(monitorLabels)) {
        const mine = await trained.oracle.predict(options.monitor)()
        if (E.isLeft(mine)) return mine
        monitorAgreement = labelAgreement(mine.right.labels, monitorLabels.right.labels)
      }
      history.push({ samples: labelled.y.length, trainingAgreement: labelAgreement(own.right.labels, labelled.y), ...(monitorAgreement !== undefined ? { monitorAgreement } : {}) })
    }
    const balance = classBalance(labelled.y, k)
    let dominantClass = 0
    balance.forEach((v, c) => {
      if (v > balance[dominantClass]!) dominantClass = c
    })
    const dominantShare = balance[dominantClass]!
    const missingClasses = Array.from(balance.keys()).filter((c) => balance[c] === 0)
    const warning =
      dominantShare >= 0.95
        ? `class ${dominantClass} holds ${(100 * dominantShare).toFixed(1)} % of the ${labelled.y.length} synthetic points: the sampler '${options.sampler.name}' does not cover the other classes, and the copy will be close to constant — sample near real data (gaussian, jitter) or use balanced/adaptive`
        : missingClasses.length > 0
          ? `classes ${missingClasses.join(', ')} never appear in the synthetic set: the copy cannot predict them`
          : undefined
    return E.right({
      copy: trained!.oracle,
      trained: trained!,
      diagnostics: { classBalance: balance, dominantShare, dominantClass, missingClasses, ...(warning !== undefined ? { warning } : {}), rounds: history, synthetic: labelled },
      queries: { labels: labeller.usage().predictRows, monitorRows: options.monitor?.rows ?? 0 },
      seed: options.seed,
    })
  }
}
