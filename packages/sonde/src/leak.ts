import { either as E, taskEither as TE } from 'fp-ts'
import {
  budget as budgetOf,
  createRng,
  errors,
  noQueries,
  randomQueries,
  stage,
  trackQueries,
  validateSeed,
  z,
  type GradientOracle,
  type Matrix,
  type Oracle,
  type Probe,
  type ProbeError,
  type ProbeReport,
  type QueryUsage,
  type ReportMetric,
  type RunControl,
} from '@sonde/oracle'
import { copyClassifier, fromGenerator } from '@sonde/copying'
import { extractLinear, extractReluNetwork } from '@sonde/gradient-extraction'

/** How much of the model its explanations give away. */
export type LeakVerdict =
  /** The model is linear (softmax/logistic) and was rebuilt exactly: every score matches. */
  | 'linear-exact'
  /** The model is a two-layer ReLU network and was rebuilt exactly. */
  | 'relu-exact'
  /** Not rebuilt exactly; the gradients still buy a copy (compare `gradientCopyAgreement` with `labelsOnlyAgreement`). */
  | 'partial'

/** Options of {@link explanationLeakAudit}. */
export interface ExplanationLeakOptions extends RunControl {
  /** Rows to spend in all (gradient and value rows, the checks included). */
  readonly budget: number
  readonly seed: number
  /** Random points on which every rebuilt model or copy is compared with the oracle (their rows count). Default 200. */
  readonly checkPoints?: number
  /** Largest relative score error at the check points for a rebuild to count as exact. Default 1e-6. */
  readonly tolerance?: number
  /** Hidden widths of the two MLP copies of the `partial` step. Default [32]. */
  readonly hidden?: readonly number[]
  /** Training epochs of those copies. Default 150. */
  readonly epochs?: number
}

/** One step the audit tried, and what came of it. */
export interface LeakStep {
  readonly step: 'linear' | 'relu' | 'gradient-matching' | 'labels-only'
  readonly outcome: 'exact' | 'not exact' | 'failed' | 'copied' | 'skipped'
  /** Why, for a failure or a skip (the error's tag and message). */
  readonly detail?: string
  /** Agreement of labels with the oracle on the check points. */
  readonly agreement?: number
  /** Largest relative score error on the check points (where scores were compared). */
  readonly maxRelativeError?: number
  readonly queries: QueryUsage
}

/** What {@link explanationLeakAudit} found. */
export interface ExplanationLeakResult {
  readonly verdict: LeakVerdict
  /** The rebuilt model (`linear-exact`, `relu-exact`) or the gradient-matching copy (`partial`), as an oracle. */
  readonly model: Oracle | null
  /** Label agreement of the best model with the oracle on the check points. */
  readonly agreement: number
  /** For `partial`: the gradient-matching copy's and a labels-only copy's agreement at the same rows. */
  readonly gradientCopyAgreement: number | null
  readonly labelsOnlyAgreement: number | null
  readonly steps: readonly LeakStep[]
  readonly checkPoints: number
  readonly queries: QueryUsage
  readonly seed: number
}

const tfjsMissing = (what: string, cause: unknown): ProbeError =>
  errors.missingCapability('@tensorflow/tfjs', 'this runtime', `${what} needs it (npm install @tensorflow/tfjs): ${cause instanceof Error ? cause.message : String(cause)}`)

/** Agreement and largest relative score error of `model` against the oracle's answers at `x`. */
const compareAt = async (model: Oracle, x: Matrix, labels: Int32Array, scores: Matrix | undefined): Promise<E.Either<ProbeError, { agreement: number; maxRelativeError: number | undefined }>> => {
  const p = await model.predict(x)()
  if (E.isLeft(p)) return p
  let same = 0
  for (let i = 0; i < labels.length; i++) if (p.right.labels[i] === labels[i]) same++
  let rel: number | undefined
  if (scores !== undefined && p.right.scores !== undefined && p.right.scores.cols === scores.cols && model.info.output === 'logits') {
    let err = 0
    let scale = 0
    for (let k = 0; k < scores.data.length; k++) {
      err = Math.max(err, Math.abs(p.right.scores.data[k]! - scores.data[k]!))
      scale = Math.max(scale, Math.abs(scores.data[k]!))
    }
    rel = err / Math.max(scale, 1e-300)
  }
  return E.right({ agreement: same / labels.length, maxRelativeError: rel })
}

const describe = (e: ProbeError): string => `${e._tag}: ${e.message}`

/**
 * How much of a model its explanation API (gradients) gives away, within one budget: first try to rebuild it
 * exactly as a linear model (K gradient rows + 1 value row), then as a two-layer ReLU network (queries flat
 * in the input dimension); each rebuild is compared with the oracle on random check points. If neither is
 * exact, train two MLP copies at the same rows — one from values *and* gradients, one from labels only — and
 * report both agreements: the gap is what the explanations leak beyond the predictions.
 *
 * @example
 * import { fromFunction, fromRows, toPromise } from '@sonde/oracle'
 * import { explanationLeakAudit } from 'sonde'
 *
 * // An explanation API over a linear model, logits (0, 2x₀ − x₁ + 0.5): its gradients give it away.
 * const api = fromFunction(
 *   { id: 'linear-api', inputDim: 2, numClasses: 2, output: 'logits' },
 *   (x) => fromRows(Array.from({ length: x.rows }, (_, i) => [0, 2 * x.data[2 * i]! - x.data[2 * i + 1]! + 0.5])),
 *   { gradient: (_x, cls) => fromRows(Array.from(cls, (c) => (c === 1 ? [2, -1] : [0, 0]))) },
 * )
 * const r = await toPromise(explanationLeakAudit(api, { budget: 100, checkPoints: 50, seed: 1 }))
 * const verdict = r.verdict // 'linear-exact' (else 'relu-exact' or 'partial')
 */
export const explanationLeakAudit = (oracle: GradientOracle, o: ExplanationLeakOptions): TE.TaskEither<ProbeError, ExplanationLeakResult> =>
  async () => {
    const seed = validateSeed(o?.seed, 'options.seed')
    if (E.isLeft(seed)) return seed
    const issues: { path: string; message: string }[] = []
    const checkPoints = o.checkPoints ?? 200
    if (!Number.isInteger(o.budget) || o.budget < 10) issues.push({ path: 'options.budget', message: `is ${String(o.budget)}; expected an integer ≥ 10` })
    if (!Number.isInteger(checkPoints) || checkPoints < 1) issues.push({ path: 'options.checkPoints', message: `is ${String(o.checkPoints)}; expected an integer ≥ 1` })
    else if (Number.isInteger(o.budget) && checkPoints >= o.budget) issues.push({ path: 'options.checkPoints', message: `is ${checkPoints}; it must leave rows of the budget (${o.budget}) to extract with` })
    const tolerance = o.tolerance ?? 1e-6
    if (!(tolerance > 0 && Number.isFinite(tolerance))) issues.push({ path: 'options.tolerance', message: `is ${String(o.tolerance)}; expected a positive number` })
    if (o.epochs !== undefined && (!Number.isInteger(o.epochs) || o.epochs < 1)) issues.push({ path: 'options.epochs', message: `is ${String(o.epochs)}; expected an integer ≥ 1` })
    if (o.hidden !== undefined && (!Array.isArray(o.hidden) || !o.hidden.every((h) => Number.isInteger(h) && h >= 1))) issues.push({ path: 'options.hidden', message: 'expected an array of positive integers' })
    if (typeof oracle?.gradient !== 'function') issues.push({ path: 'oracle', message: 'has no gradient method (an explanation API is needed)' })
    if (issues.length > 0) return E.left(errors.invalidOptions(issues))
    const control: RunControl = { ...(o.signal !== undefined ? { signal: o.signal } : {}), ...(o.progress !== undefined ? { progress: o.progress } : {}) }
    const s = stage(control, 'explanation leak audit', 4)
    const tracked = trackQueries(oracle)
    const capped = budgetOf(o.budget)(tracked.oracle)
    const info = oracle.info
    const steps: LeakStep[] = []

    // The check points, answered once by the oracle: every candidate is compared on them.
    const go = s.check(0)
    if (E.isLeft(go)) return go
    const x = randomQueries(info, checkPoints, createRng(o.seed))
    const truth = await capped.predict(x)()
    if (E.isLeft(truth)) return truth
    const labels = truth.right.labels
    const scores = info.output === 'logits' ? truth.right.scores : undefined
    const result = (verdict: LeakVerdict, model: Oracle | null, agreement: number, g: number | null, l: number | null): E.Either<ProbeError, ExplanationLeakResult> =>
      E.right({ verdict, model, agreement, gradientCopyAgreement: g, labelsOnlyAgreement: l, steps, checkPoints, queries: tracked.usage(), seed: o.seed })

    // 1. Linear: K gradient rows + 1 value row.
    if (info.output !== 'label') {
      const t = trackQueries(capped)
      const lin = await extractLinear(t.oracle as GradientOracle, { seed: o.seed, ...control })()
      if (E.isLeft(lin)) {
        if (lin.left._tag === 'Aborted' || lin.left._tag === 'BudgetExhausted') return lin
        steps.push({ step: 'linear', outcome: 'failed', detail: describe(lin.left), queries: t.usage() })
      } else {
        const c = await compareAt(lin.right.model, x, labels, scores)
        if (E.isLeft(c)) return c
        const exact = c.right.agreement === 1 && (scores === undefined || (c.right.maxRelativeError ?? Infinity) <= tolerance)
        steps.push({ step: 'linear', outcome: exact ? 'exact' : 'not exact', agreement: c.right.agreement, ...(c.right.maxRelativeError !== undefined ? { maxRelativeError: c.right.maxRelativeError } : {}), queries: t.usage() })
        if (exact) return result('linear-exact', lin.right.model, c.right.agreement, null, null)
      }
    } else {
      steps.push({ step: 'linear', outcome: 'skipped', detail: 'the oracle reveals labels only (a rebuild needs one value row)', queries: noQueries })
    }

    // 2. Two-layer ReLU network.
    const s1 = s.check(1)
    if (E.isLeft(s1)) return s1
    const left = (): number => o.budget - tracked.usage().predictRows - tracked.usage().gradientRows
    if (info.output === 'logits' && left() > 10) {
      const t = trackQueries(capped)
      const relu = await extractReluNetwork(t.oracle as GradientOracle, { seed: o.seed, budget: Math.floor(left() * 0.6), ...control })()
      if (E.isLeft(relu)) {
        if (relu.left._tag === 'Aborted') return relu
        steps.push({ step: 'relu', outcome: 'failed', detail: describe(relu.left), queries: t.usage() })
      } else {
        const c = await compareAt(relu.right.model, x, labels, scores)
        if (E.isLeft(c)) return c
        const exact = c.right.agreement === 1 && (c.right.maxRelativeError ?? Infinity) <= tolerance
        steps.push({ step: 'relu', outcome: exact ? 'exact' : 'not exact', agreement: c.right.agreement, ...(c.right.maxRelativeError !== undefined ? { maxRelativeError: c.right.maxRelativeError } : {}), queries: t.usage() })
        if (exact) return result('relu-exact', relu.right.model, c.right.agreement, null, null)
      }
    } else {
      steps.push({ step: 'relu', outcome: 'skipped', detail: info.output === 'logits' ? 'no budget left' : 'an exact ReLU rebuild needs an oracle that reveals logits', queries: noQueries })
    }

    // 3. Partial: a gradient-matching copy against a labels-only copy at the same rows.
    const s2 = s.check(2)
    if (E.isLeft(s2)) return s2
    const n = Math.floor(left() / 4)
    if (n < 2) return E.left(errors.budgetExhausted(o.budget - left(), o.budget, 4))
    let tfjsParts: [typeof import('@sonde/gradient-extraction/tfjs'), typeof import('@sonde/copying/tfjs')]
    try {
      tfjsParts = await Promise.all([import('@sonde/gradient-extraction/tfjs'), import('@sonde/copying/tfjs')])
    } catch (cause) {
      return E.left(tfjsMissing('the copies of the explanation leak audit', cause))
    }
    const [{ gradientMatchingCopy }, { mlpCopy }] = tfjsParts
    const hidden = o.hidden ?? [32]
    const epochs = o.epochs ?? 150
    const tg = trackQueries(capped)
    const matched = await gradientMatchingCopy(tg.oracle, undefined, { budget: n, seed: o.seed, hidden, epochs, fit: info.output === 'logits' ? 'logits' : 'labels', ...control })()
    if (E.isLeft(matched)) return matched
    const cg = await compareAt(matched.right.copy, x, labels, undefined)
    if (E.isLeft(cg)) return cg
    steps.push({ step: 'gradient-matching', outcome: 'copied', agreement: cg.right.agreement, queries: tg.usage() })
    const s3 = s.check(3)
    if (E.isLeft(s3)) return s3
    const spent = tg.usage().predictRows + tg.usage().gradientRows
    const tl = trackQueries(capped)
    const rng = createRng(o.seed + 1)
    const domainPoints = fromGenerator('domain', (m) => E.right(randomQueries(info, m, rng)))
    const baseline = await copyClassifier(tl.oracle, { sampler: domainPoints, budget: spent, copy: mlpCopy({ hidden, epochs }), seed: o.seed, ...control })()
    if (E.isLeft(baseline)) return baseline
    const cl = await compareAt(baseline.right.copy, x, labels, undefined)
    if (E.isLeft(cl)) return cl
    steps.push({ step: 'labels-only', outcome: 'copied', agreement: cl.right.agreement, queries: tl.usage() })
    s.check(4)
    matched.right.model.dispose?.()
    return result('partial', matched.right.copy, cg.right.agreement, cg.right.agreement, cl.right.agreement)
  }

/**
 * The report of {@link explanationLeakAudit}.
 *
 * @example
 * // fragment: needs a result
 * import { explanationLeakReport, type ExplanationLeakResult } from 'sonde'
 *
 * declare const result: ExplanationLeakResult
 * const { headline, findings } = explanationLeakReport(result)
 */
export const explanationLeakReport = (r: ExplanationLeakResult): ProbeReport => {
  const rows = r.queries.predictRows + r.queries.gradientRows
  const pct = (v: number | null): string => (v === null ? '–' : `${(100 * v).toFixed(1)} %`)
  const headline =
    r.verdict === 'linear-exact'
      ? `The explanations give the model away: it is linear and was rebuilt exactly from ${rows} rows (every label and score matches on ${r.checkPoints} check points).`
      : r.verdict === 'relu-exact'
        ? `The explanations give the model away: it is a two-layer ReLU network, rebuilt exactly from ${rows} rows.`
        : `Not rebuilt exactly, but the explanations leak: a copy trained on values and gradients agrees with the model on ${pct(r.gradientCopyAgreement)} of check points, against ${pct(r.labelsOnlyAgreement)} for a copy from labels alone at the same rows.`
  const metrics: ReportMetric[] = [
    { name: 'verdict', value: r.verdict },
    { name: 'agreement', value: r.agreement, description: 'label agreement of the best model with the oracle on the check points' },
    { name: 'rows', value: rows, unit: 'rows', description: 'gradient and value rows spent, the checks included' },
    ...(r.gradientCopyAgreement !== null ? [{ name: 'gradient-matching agreement', value: r.gradientCopyAgreement }, { name: 'labels-only agreement', value: r.labelsOnlyAgreement }] : []),
  ]
  return {
    probe: 'sonde/explanation-leak-audit',
    headline,
    findings: r.steps.map((s) => `${s.step}: ${s.outcome}${s.detail !== undefined ? ` (${s.detail})` : ''}${s.agreement !== undefined ? `, agreement ${pct(s.agreement)}` : ''}`),
    seed: r.seed,
    queries: r.queries,
    metrics,
    tables: [
      {
        title: 'steps',
        columns: ['step', 'outcome', 'agreement', 'max relative error', 'gradient rows', 'value rows'],
        rows: r.steps.map((s) => [s.step, s.outcome, s.agreement ?? null, s.maxRelativeError !== undefined && Number.isFinite(s.maxRelativeError) ? s.maxRelativeError : null, s.queries.gradientRows, s.queries.predictRows]),
      },
    ],
    figures:
      r.gradientCopyAgreement !== null
        ? [{ kind: 'bar', title: 'agreement with the model at the same rows', yLabel: 'agreement', bars: [{ label: 'values + gradients', value: r.gradientCopyAgreement }, { label: 'labels only', value: r.labelsOnlyAgreement ?? 0 }] }]
        : [],
  }
}

const options = z
  .object({
    budget: z.number().int().min(10).default(5000).describe('rows to spend in all (gradient and value rows, the checks included)'),
    checkPoints: z.number().int().min(1).default(200).describe('random points on which every rebuilt model or copy is compared with the oracle'),
    tolerance: z.number().positive().default(1e-6).describe('largest relative score error for a rebuild to count as exact'),
    hidden: z.array(z.number().int().min(1)).min(1).default([32]).describe('hidden widths of the MLP copies (partial step)'),
    epochs: z.number().int().min(1).default(150).describe('training epochs of the MLP copies (partial step)'),
  })
  .strict()

/**
 * {@link explanationLeakAudit} as a probe: needs gradients.
 *
 * @example
 * // fragment: needs an explanation API
 * import { makeContext, runProbe, toPromise, type GradientOracle } from '@sonde/oracle'
 * import { explanationLeakAuditProbe } from 'sonde'
 *
 * declare const explanationApi: GradientOracle
 * const r = await toPromise(runProbe(explanationLeakAuditProbe, explanationApi, { budget: 5000 }, makeContext({ seed: 1 })))
 */
export const explanationLeakAuditProbe: Probe<GradientOracle, z.output<typeof options>, ExplanationLeakResult> = {
  id: 'sonde/explanation-leak-audit',
  summary: 'how much of a model its gradient explanations give away: exact linear or ReLU rebuild, else a gradient-matching copy against labels alone at equal rows',
  requires: ['gradients'],
  options,
  run: (oracle, o, ctx) => explanationLeakAudit(oracle, { ...o, seed: ctx.seed, ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}), progress: ctx.progress, log: ctx.log }),
  report: explanationLeakReport,
}
