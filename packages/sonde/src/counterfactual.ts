import { either as E, taskEither as TE } from 'fp-ts'
import {
  budget as budgetOf,
  errors,
  featureBounds,
  schemas,
  trackQueries,
  validateSeed,
  z,
  type Domain,
  type Matrix,
  type Oracle,
  type OracleInfo,
  type Probe,
  type ProbeError,
  type ProbeReport,
  type QueryUsage,
  type RunControl,
} from '@sonde/oracle'
import { boundary, copyClassifier, jitter, softmaxCopy, type CopyResult } from '@sonde/copying'
import { counterfactual, counterfactualReport, type CounterfactualResult, type SoftmaxModel } from '@sonde/inverse-classification'

/** Options of {@link blackBoxCounterfactual}. */
export interface BlackBoxCounterfactualOptions extends RunControl {
  /** The class the answer must be assigned to by the black box. */
  readonly target: number
  /** Rows to spend in all: labels to copy the box, then the check and repair on the box itself. */
  readonly budget: number
  readonly seed: number
  /** The box the answer must stay in (intersected with the oracle's domain). */
  readonly domain?: Domain
  /** Logit margin asked of the surrogate's answer (a larger one lands deeper inside the target class). */
  readonly margin?: number
  /** Features that keep their value in `x0`. */
  readonly immutable?: readonly number[]
  /** Share of the budget spent copying; the rest goes to checking and repairing on the box. Default 0.9. */
  readonly copyShare?: number
  /** Spread of the synthetic points around `x0`, in input units. Default: a quarter of the domain's width, or 1. */
  readonly sigma?: number
  /** Copy rounds (later rounds sample near the copy's boundary). Default 2. */
  readonly rounds?: number
}

/** What {@link blackBoxCounterfactual} found, counted end to end. */
export interface BlackBoxCounterfactualResult {
  /** The closest point found that the black box assigns to `target` (when `confirmed`). */
  readonly x: Float64Array
  readonly x0: Float64Array
  readonly target: number
  readonly distance: number
  /** Whether the black box itself puts `x` in `target`. */
  readonly confirmed: boolean
  /** Whether the surrogate's exact answer had to be moved to convince the box. */
  readonly repaired: boolean
  /** The copy's agreement with the box on points it had not trained on (held-out), when measured. */
  readonly copyAgreement: number | null
  /** Labels bought for the copy. */
  readonly copyLabels: number
  /** The counterfactual step's own account (the exact answer on the surrogate, the check and repair). */
  readonly counterfactual: CounterfactualResult
  /** Every query sent to the box: the copy's labels plus the check and repair. */
  readonly queries: QueryUsage
  /** The copy step's and the counterfactual step's queries, apart. */
  readonly stages: { readonly copy: QueryUsage; readonly counterfactual: QueryUsage }
  readonly seed: number
}

/** The mean width of the box's sides (4 where a side is open). */
const widthOf = (info: OracleInfo, domain: Domain | undefined): number => {
  const d = info.inputDim
  const boxed: OracleInfo = domain !== undefined ? { ...info, domain } : info
  let total = 0
  for (let j = 0; j < d; j++) {
    const [lo, hi] = featureBounds(boxed, j)
    total += Number.isFinite(hi - lo) ? hi - lo : 4
  }
  return total / d
}

const optionIssues = (oracle: Oracle, x0: unknown, o: BlackBoxCounterfactualOptions): { path: string; message: string }[] => {
  const issues: { path: string; message: string }[] = []
  const d = oracle.info.inputDim
  if (!(x0 instanceof Float64Array) || x0.length !== d || !x0.every(Number.isFinite)) issues.push({ path: 'x0', message: `expected a Float64Array of ${d} finite numbers` })
  if (!Number.isInteger(o.target) || o.target < 0 || o.target >= Math.max(oracle.info.numClasses, 2)) issues.push({ path: 'options.target', message: `is ${String(o.target)}; expected a class in 0..${Math.max(oracle.info.numClasses, 2) - 1}` })
  if (!Number.isInteger(o.budget) || o.budget < 20) issues.push({ path: 'options.budget', message: `is ${String(o.budget)}; expected an integer ≥ 20 (labels to copy with, and rows to check the answer)` })
  if (o.copyShare !== undefined && !(o.copyShare > 0 && o.copyShare < 1)) issues.push({ path: 'options.copyShare', message: `is ${String(o.copyShare)}; expected a number in (0, 1)` })
  if (o.sigma !== undefined && !(o.sigma > 0 && Number.isFinite(o.sigma))) issues.push({ path: 'options.sigma', message: `is ${String(o.sigma)}; expected a positive number` })
  if (o.rounds !== undefined && (!Number.isInteger(o.rounds) || o.rounds < 1)) issues.push({ path: 'options.rounds', message: `is ${String(o.rounds)}; expected an integer ≥ 1` })
  return issues
}

/**
 * The closest input a **black box** (labels only) puts in a chosen class: copy the box into a softmax
 * surrogate from label queries around `x0`, solve exactly on the surrogate (`inverseSoftmax`'s KKT-certified
 * answer), then check the answer on the box and repair it along the ray from `x0` if the box disagrees —
 * every row counted, the whole run within `budget`.
 *
 * No single family can do this: copying gives the surrogate, inverse classification the exact answer and
 * the repair. The answer is exact for the surrogate; for the box it is the nearest point on that ray that the
 * box confirms (`confirmed`), so it is an upper bound on the box's true distance.
 *
 * @example
 * import { fromFunction, toPromise } from '@sonde/oracle'
 * import { blackBoxCounterfactual } from 'sonde'
 *
 * // A black box that says 1 where x₀ + x₁ > 1: the closest such point to (0, 0) is (0.5, 0.5), √½ away.
 * const box = fromFunction({ id: 'half-plane', inputDim: 2, numClasses: 2, output: 'label', domain: { lower: -2, upper: 2 } }, (x) =>
 *   Int32Array.from({ length: x.rows }, (_, i) => (x.data[2 * i]! + x.data[2 * i + 1]! > 1 ? 1 : 0)),
 * )
 * const r = await toPromise(blackBoxCounterfactual(box, Float64Array.of(0, 0), { target: 1, budget: 200, seed: 7 }))
 * const { confirmed, distance, queries } = r // true (the box itself puts r.x in class 1), ≈ 0.708, ≤ 200 rows
 */
export const blackBoxCounterfactual = (oracle: Oracle, x0: Float64Array, o: BlackBoxCounterfactualOptions): TE.TaskEither<ProbeError, BlackBoxCounterfactualResult> =>
  async () => {
    const seed = validateSeed(o?.seed, 'options.seed')
    if (E.isLeft(seed)) return seed
    const issues = optionIssues(oracle, x0, o)
    if (issues.length > 0) return E.left(errors.invalidOptions(issues))
    const d = oracle.info.inputDim
    const tracked = trackQueries(oracle)
    const capped = budgetOf(o.budget)(tracked.oracle)
    const copyRows = Math.max(10, Math.floor(o.budget * (o.copyShare ?? 0.9)))
    const domain = o.domain ?? oracle.info.domain
    const sigma = o.sigma ?? widthOf(oracle.info, domain) / 4
    const around: Matrix = { rows: 1, cols: d, data: x0 }
    const control: RunControl = { ...(o.signal !== undefined ? { signal: o.signal } : {}), ...(o.progress !== undefined ? { progress: o.progress } : {}), ...(o.log !== undefined ? { log: o.log } : {}) }
    const copyTracked = trackQueries(capped)
    const copied = await copyClassifier(copyTracked.oracle, {
      sampler: boundary(jitter({ sigma, around })),
      budget: copyRows,
      copy: softmaxCopy({ l2: 1e-6 }),
      seed: o.seed,
      rounds: o.rounds ?? 2,
      reference: around,
      ...control,
    })()
    if (E.isLeft(copied)) return copied
    const copy: CopyResult = copied.right
    const seen = copy.diagnostics.classBalance[o.target] ?? 0
    if (seen === 0) {
      return E.left(errors.unidentifiable(`the ${copy.labelsBought} points labelled around x0 (sigma ${sigma.toPrecision(3)}) hold no point of class ${o.target}, so the copy cannot say where that class is; widen sigma or raise the budget`))
    }
    const surrogate = copy.trained.model as SoftmaxModel
    const cfTracked = trackQueries(capped)
    const rest = o.budget - copyTracked.usage().predictRows
    const cf = await counterfactual(cfTracked.oracle, surrogate, x0, {
      target: o.target,
      budget: Math.max(1, rest),
      seed: o.seed,
      ...(domain !== undefined ? { domain } : {}),
      ...(o.margin !== undefined ? { margin: o.margin } : {}),
      ...(o.immutable !== undefined ? { immutable: o.immutable } : {}),
      ...control,
    })()
    if (E.isLeft(cf)) return cf
    const r = cf.right
    const rounds = copy.diagnostics.rounds
    const heldOut = rounds.map((x) => x.heldOutAgreement).filter((v): v is number => v !== undefined)
    return E.right({
      x: r.x,
      x0: r.x0,
      target: o.target,
      distance: r.distance,
      confirmed: r.confirmed,
      repaired: r.repaired,
      copyAgreement: heldOut.length > 0 ? heldOut.at(-1)! : null,
      copyLabels: copy.labelsBought,
      counterfactual: r,
      queries: tracked.usage(),
      stages: { copy: copyTracked.usage(), counterfactual: cfTracked.usage() },
      seed: o.seed,
    })
  }

const options = z
  .object({
    x0: schemas.vector({ minLength: 1, description: 'the input to find a counterfactual for' }),
    target: z.number().int().min(0).describe('the class the black box must assign to the answer'),
    budget: z.number().int().min(20).default(2000).describe('rows to spend in all: labels to copy the box, then the check and repair'),
    domain: z.object({ lower: schemas.bound('lower side of the box'), upper: schemas.bound('upper side of the box') }).strict().optional().describe('the box the answer must stay in (default: the oracle’s domain)'),
    margin: z.number().min(0).optional().describe('logit margin asked of the surrogate’s answer'),
    immutable: z.array(z.number().int().min(0)).optional().describe('features that keep their value in x0'),
    copyShare: z.number().gt(0).lt(1).default(0.9).describe('share of the budget spent copying'),
    sigma: z.number().positive().optional().describe('spread of the synthetic points around x0 (default: a quarter of the domain width, or 1)'),
    rounds: z.number().int().min(1).default(2).describe('copy rounds (later rounds sample near the copy’s boundary)'),
  })
  .strict()

/**
 * The report of {@link blackBoxCounterfactual}: the counterfactual's, headed by how it was reached.
 *
 * @example
 * // fragment: needs a result
 * import { blackBoxCounterfactualReport, type BlackBoxCounterfactualResult } from 'sonde'
 *
 * declare const result: BlackBoxCounterfactualResult
 * const { headline, metrics } = blackBoxCounterfactualReport(result)
 */
export const blackBoxCounterfactualReport = (r: BlackBoxCounterfactualResult): ProbeReport => {
  const inner = counterfactualReport(r.counterfactual, 'sonde/black-box-counterfactual')
  const how = `a softmax copy from ${r.copyLabels} labels${r.copyAgreement === null ? '' : ` (agreeing with the box on ${(100 * r.copyAgreement).toFixed(1)} % of fresh points)`}`
  return {
    ...inner,
    headline: r.confirmed
      ? `the black box puts a point ${r.distance.toPrecision(4)} away from x0 in class ${r.target}${r.repaired ? ' (the surrogate’s exact answer was repaired on the box)' : ' (the surrogate’s exact answer, confirmed by the box)'}; found through ${how}`
      : `no point the black box puts in class ${r.target} was confirmed within the budget; the surrogate (${how}) answered ${r.distance.toPrecision(4)} away`,
    findings: [...inner.findings, `queries: ${r.stages.copy.predictRows} rows to copy, ${r.stages.counterfactual.predictRows} to check and repair`],
    seed: r.seed,
    queries: r.queries,
    metrics: [
      ...inner.metrics.filter((m) => m.name !== 'queries'),
      { name: 'copy labels', value: r.copyLabels, unit: 'rows' },
      { name: 'copy agreement', value: r.copyAgreement, description: 'the copy’s agreement with the box on points it had not seen' },
    ],
  }
}

/**
 * {@link blackBoxCounterfactual} as a probe: labels only.
 *
 * @example
 * // fragment: needs a black box
 * import { makeContext, runProbe, toPromise, type Oracle } from '@sonde/oracle'
 * import { blackBoxCounterfactualProbe } from 'sonde'
 *
 * declare const blackBox: Oracle
 * const r = await toPromise(runProbe(blackBoxCounterfactualProbe, blackBox, { x0: [0, 0], target: 1, budget: 2000 }, makeContext({ seed: 1 })))
 */
export const blackBoxCounterfactualProbe: Probe<Oracle, z.output<typeof options>, BlackBoxCounterfactualResult> = {
  id: 'sonde/black-box-counterfactual',
  summary: 'the closest input a black box (labels only) puts in a chosen class: copied into a softmax surrogate, solved exactly, checked and repaired on the box',
  requires: ['labels'],
  options,
  run: (oracle, o, ctx) =>
    blackBoxCounterfactual(oracle, o.x0, {
      target: o.target,
      budget: o.budget,
      copyShare: o.copyShare,
      rounds: o.rounds,
      ...(o.domain !== undefined ? { domain: o.domain } : {}),
      ...(o.margin !== undefined ? { margin: o.margin } : {}),
      ...(o.immutable !== undefined ? { immutable: o.immutable } : {}),
      ...(o.sigma !== undefined ? { sigma: o.sigma } : {}),
      seed: ctx.seed,
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      progress: ctx.progress,
      log: ctx.log,
    }),
  report: blackBoxCounterfactualReport,
}
