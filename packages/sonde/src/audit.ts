import { either as E, taskEither as TE } from 'fp-ts'
import {
  budget as budgetOf,
  capabilitiesOf,
  createRng,
  errors,
  hasGradients,
  makeContext,
  noQueries,
  permutation,
  randomQueries,
  runProbe,
  schemas,
  stage,
  takeRows,
  trackQueries,
  validateSeed,
  z,
  type Examples,
  type GradientOracle,
  type Matrix,
  type Oracle,
  type Probe,
  type ProbeError,
  type ProbeReport,
  type QueryUsage,
  type RunControl,
} from '@sonde/oracle'
import { copyClassifier, copyingReport, gaussian, jitter, softmaxCopy, uniformBox } from '@sonde/copying'
import { counterfactual, type SoftmaxModel } from '@sonde/inverse-classification'
import { defuseProbe, trainVae, type DefuseProbeResult } from '@sonde/debugging'
import { explanationLeakAudit, explanationLeakReport } from './leak.js'

/** Options of {@link audit}. */
export interface AuditOptions extends RunControl {
  /** Rows to spend in all, over every section. */
  readonly budget: number
  readonly seed: number
  /**
   * Real inputs, labelled or not: copies sample around them, counterfactuals start from them, and labelled
   * rows (with at least 50 of them) let the audit look for error regions. Without data, points are drawn
   * from the oracle's domain.
   */
  readonly data?: Examples | Matrix
  /** Counterfactuals to find (one per source point). Default 3. */
  readonly counterfactuals?: number
  /** Look for error regions (needs labelled data and tfjs). Default: when labelled data is given. */
  readonly regions?: boolean
}

/** One part of an audit. */
export interface AuditSection {
  readonly id: 'copy' | 'counterfactuals' | 'explanations' | 'error-regions'
  readonly title: string
  /** The section's report, or `null` when it was skipped or failed. */
  readonly report: ProbeReport | null
  /** Why it was skipped or what failed (the error's tag and message). */
  readonly note?: string
  readonly queries: QueryUsage
}

/** What {@link audit} found. */
export interface AuditResult {
  readonly sections: readonly AuditSection[]
  /** The capabilities the oracle offered. */
  readonly capabilities: readonly string[]
  readonly queries: QueryUsage
  readonly seed: number
}

const isExamples = (d: Examples | Matrix | undefined): d is Examples => d !== undefined && 'x' in d && 'y' in d
const inUnitBox = (x: Matrix): boolean => x.data.every((v) => v >= 0 && v <= 1)

/**
 * Everything an outsider can learn about a model within one budget, as far as its capabilities allow:
 *
 * 1. **copy** — a softmax copy from label queries (around `data`, or over the domain), with its agreement on
 *    fresh points as the labels grow;
 * 2. **counterfactuals** — for a few source points, the closest input in another class: exact on the copy,
 *    checked and repaired on the model;
 * 3. **explanations** (when the oracle offers gradients) — {@link explanationLeakAudit}: an exact rebuild, or
 *    what the gradients add to a copy;
 * 4. **error regions** (with labelled `data`) — Defuse: regions of inputs the model gets systematically wrong.
 *
 * The budget is shared between the sections (copy 40 %, counterfactuals 10 %, explanations 35 %, regions 15 %,
 * re-spread over the sections that run); no row is spent beyond it. A section that fails is reported with its
 * error and the audit goes on.
 *
 * @example
 * // fragment: needs an oracle
 * import { toPromise, type Oracle } from '@sonde/oracle'
 * import { audit, auditReport } from 'sonde'
 *
 * declare const oracle: Oracle
 * const r = await toPromise(audit(oracle, { budget: 20_000, seed: 1 }))
 * const headline = auditReport(r).headline
 */
export const audit = (oracle: Oracle, o: AuditOptions): TE.TaskEither<ProbeError, AuditResult> =>
  async () => {
    const seed = validateSeed(o?.seed, 'options.seed')
    if (E.isLeft(seed)) return seed
    const issues: { path: string; message: string }[] = []
    if (!Number.isInteger(o.budget) || o.budget < 100) issues.push({ path: 'options.budget', message: `is ${String(o.budget)}; expected an integer ≥ 100` })
    const k = o.counterfactuals ?? 3
    if (!Number.isInteger(k) || k < 0 || k > 100) issues.push({ path: 'options.counterfactuals', message: `is ${String(o.counterfactuals)}; expected an integer in 0..100` })
    const points: Matrix | undefined = isExamples(o.data) ? o.data.x : o.data
    if (points !== undefined && (points.cols !== oracle.info.inputDim || !(points.data instanceof Float64Array) || points.data.length !== points.rows * points.cols || points.rows < 1)) {
      issues.push({ path: 'options.data', message: `expected rows of ${oracle.info.inputDim} numbers (the oracle's inputDim)` })
    }
    const labelled = isExamples(o.data) && o.data.x.rows >= 50
    if (o.regions === true && !labelled) issues.push({ path: 'options.regions', message: 'error regions need labelled data (options.data as { x, y }) with at least 50 rows' })
    if (issues.length > 0) return E.left(errors.invalidOptions(issues))

    const control: RunControl = { ...(o.signal !== undefined ? { signal: o.signal } : {}), ...(o.progress !== undefined ? { progress: o.progress } : {}), ...(o.log !== undefined ? { log: o.log } : {}) }
    const tracked = trackQueries(oracle)
    const capped = budgetOf(o.budget)(tracked.oracle)
    const gradients = hasGradients(oracle)
    const regions = (o.regions ?? labelled) && labelled
    const weights = { copy: 0.4, counterfactuals: k > 0 ? 0.1 : 0, explanations: gradients ? 0.35 : 0, regions: regions ? 0.15 : 0 }
    const total = weights.copy + weights.counterfactuals + weights.explanations + weights.regions
    const share = (w: number): number => Math.floor((o.budget * w) / total)
    const sections: AuditSection[] = []
    const s = stage(control, 'audit', 4)
    const spent = (): number => tracked.usage().predictRows + tracked.usage().gradientRows
    const abortedOr = (e: ProbeError): E.Either<ProbeError, never> | undefined => (e._tag === 'Aborted' ? E.left(e) : undefined)

    // 1. Copy.
    const c0 = s.check(0)
    if (E.isLeft(c0)) return c0
    const tc = trackQueries(capped)
    const domain = oracle.info.domain
    const sampler = points !== undefined ? jitter() : domain !== undefined ? uniformBox() : gaussian()
    const copied = await copyClassifier(tc.oracle, { sampler, budget: share(weights.copy), copy: softmaxCopy({ l2: 1e-6 }), seed: o.seed, rounds: 4, ...(points !== undefined ? { reference: points } : {}), ...control })()
    let surrogate: SoftmaxModel | undefined
    if (E.isLeft(copied)) {
      const stop = abortedOr(copied.left)
      if (stop) return stop
      sections.push({ id: 'copy', title: 'Copying from labels', report: null, note: `${copied.left._tag}: ${copied.left.message}`, queries: tc.usage() })
    } else {
      // The copying family's own report (its headline, rounds, agreement curve), under the audit's section id.
      sections.push({ id: 'copy', title: 'Copying from labels', report: { ...copyingReport(copied.right), probe: 'sonde/audit#copy' }, queries: tc.usage() })
      surrogate = copied.right.trained.model as SoftmaxModel
    }

    // 2. Counterfactuals on the copy, checked and repaired on the model.
    const c1 = s.check(1)
    if (E.isLeft(c1)) return c1
    if (k > 0 && surrogate !== undefined) {
      const tk = trackQueries(capped)
      const sources = points !== undefined ? points : randomQueries(oracle.info, k, createRng(o.seed + 2))
      const rng = createRng(o.seed + 3)
      const picks = Array.from({ length: Math.min(k, sources.rows) }, () => rng.int(sources.rows))
      const rowsEach = Math.max(1, Math.floor(share(weights.counterfactuals) / Math.max(1, picks.length)) - 1)
      const table: (number | string | boolean | null)[][] = []
      let note: string | undefined
      for (const i of picks) {
        const x0 = sources.data.slice(i * sources.cols, (i + 1) * sources.cols)
        const label = await tk.oracle.predict({ rows: 1, cols: sources.cols, data: x0 })()
        if (E.isLeft(label)) {
          const stop = abortedOr(label.left)
          if (stop) return stop
          note = `${label.left._tag}: ${label.left.message}`
          break
        }
        const target = (label.right.labels[0]! + 1) % Math.max(oracle.info.numClasses, 2)
        // Where the copy's boundary is off, the model may not confirm the copy's exact answer and the repair
        // may not reach the class; ask the copy for answers ever deeper inside the class (logit margins
        // 1e-6, 1, 4, 16) while this source's rows last.
        const startRows = tk.usage().predictRows
        let best: { distance: number; how: string } | undefined
        let failure: string | undefined
        for (const margin of [undefined, 1, 4, 16]) {
          const left = rowsEach - (tk.usage().predictRows - startRows)
          if (left < 2) break
          const r = await counterfactual(tk.oracle, surrogate, x0, { target, budget: left, seed: o.seed, ...(margin !== undefined ? { margin } : {}), ...(domain !== undefined ? { domain } : {}), ...control })()
          if (E.isLeft(r)) {
            const stop = abortedOr(r.left)
            if (stop) return stop
            failure = r.left._tag
            break
          }
          if (r.right.confirmed) {
            const margined = margin === undefined ? '' : ` (copy's margin ${margin})`
            best = { distance: r.right.distance, how: r.right.repaired ? `repaired on the model${margined}` : `exact on the copy, confirmed${margined}` }
            break
          }
        }
        table.push(best !== undefined ? [i, label.right.labels[0]!, target, best.distance, true, best.how] : [i, label.right.labels[0]!, target, null, false, failure ?? 'not confirmed within its rows'])
      }
      const confirmed = table.filter((r) => r[4] === true)
      const distances = confirmed.map((r) => r[3] as number).sort((a, b) => a - b)
      const median = distances.length > 0 ? distances[Math.floor(distances.length / 2)]! : null
      sections.push({
        id: 'counterfactuals',
        title: 'Counterfactuals',
        report: {
          probe: 'sonde/audit#counterfactuals',
          headline:
            median === null
              ? `No counterfactual of ${table.length} tried was confirmed by the model within the budget.`
              : `For ${confirmed.length} of ${table.length} source points the model's decision flips within a median L2 distance of ${median.toPrecision(4)} (found on the copy, confirmed on the model).`,
          findings: note !== undefined ? [note] : [],
          seed: o.seed,
          queries: tk.usage(),
          metrics: [
            { name: 'confirmed', value: confirmed.length, unit: `of ${table.length}` },
            { name: 'median distance', value: median },
          ],
          tables: [{ title: 'counterfactuals', columns: ['source row', 'label', 'target', 'distance', 'confirmed', 'how'], rows: table }],
          figures: distances.length > 1 ? [{ kind: 'histogram', title: 'distance to the nearest input of another class', xLabel: 'L2 distance', values: distances }] : [],
        },
        queries: tk.usage(),
      })
    } else if (k > 0) {
      sections.push({ id: 'counterfactuals', title: 'Counterfactuals', report: null, note: 'skipped: no copy to solve on', queries: noQueries })
    }

    // 3. Explanations.
    const c2 = s.check(2)
    if (E.isLeft(c2)) return c2
    if (gradients) {
      const te = trackQueries(capped)
      const rows = Math.min(share(weights.explanations), o.budget - spent())
      const leak = rows >= 20 ? await explanationLeakAudit(te.oracle as unknown as GradientOracle, { budget: rows, seed: o.seed, checkPoints: Math.max(1, Math.min(200, Math.floor(rows / 10))), ...control })() : E.left(errors.budgetExhausted(spent(), o.budget, 20))
      if (E.isLeft(leak)) {
        const stop = abortedOr(leak.left)
        if (stop) return stop
        sections.push({ id: 'explanations', title: 'What the explanations give away', report: null, note: `${leak.left._tag}: ${leak.left.message}`, queries: te.usage() })
      } else {
        sections.push({ id: 'explanations', title: 'What the explanations give away', report: explanationLeakReport(leak.right), queries: te.usage() })
      }
    }

    // 4. Error regions.
    const c3 = s.check(3)
    if (E.isLeft(c3)) return c3
    if (regions && isExamples(o.data)) {
      const ex = o.data
      const tr = trackQueries(capped)
      const rows = Math.min(share(weights.regions), o.budget - spent())
      // Identification spends sources × perturbations rows before any region is measured: pick the sources so
      // that it takes about 60 % of the share and the rest measures the regions it finds. The VAE trains on
      // every labelled row (the sources included), as a user's generator would.
      const perturbations = 10
      const sources = Math.max(5, Math.min(ex.x.rows, Math.floor((0.6 * rows) / perturbations)))
      const picked = Array.from(permutation(ex.x.rows, createRng(o.seed + 4)).subarray(0, sources))
      const vae = await trainVae(ex.x, { seed: o.seed, epochs: 8, latentDim: 4, hidden: [64], likelihood: inUnitBox(ex.x) ? 'bernoulli' : 'gaussian', ...(o.signal !== undefined ? { signal: o.signal } : {}) })()
      const r = E.isLeft(vae)
        ? vae
        : await runProbe(
            defuseProbe,
            tr.oracle,
            { data: { x: takeRows(ex.x, picked), y: Int32Array.from(picked, (j) => ex.y[j]!) }, generator: vae.right, perturbations, keepPerSource: 3, samplesPerRegion: 16, budget: Math.max(1, rows) },
            makeContext({ seed: o.seed, ...control }),
          )()
      if (E.isRight(vae)) vae.right.dispose()
      if (E.isLeft(r)) {
        const stop = abortedOr(r.left)
        if (stop) return stop
        sections.push({ id: 'error-regions', title: 'Systematic errors', report: null, note: `${r.left._tag}: ${r.left.message}`, queries: tr.usage() })
      } else {
        sections.push({ id: 'error-regions', title: 'Systematic errors', report: defuseProbe.report(r.right as DefuseProbeResult), queries: tr.usage() })
      }
    }
    s.check(4)
    return E.right({ sections, capabilities: capabilitiesOf(oracle), queries: tracked.usage(), seed: o.seed })
  }

/**
 * The report of {@link audit}: the sections' headlines first, each section's report under `sections`.
 *
 * @example
 * // fragment: needs an audit result
 * import { auditReport, type AuditResult } from 'sonde'
 *
 * declare const result: AuditResult
 * const { headline, sections } = auditReport(result)
 */
export const auditReport = (r: AuditResult): ProbeReport => {
  const ran = r.sections.filter((s) => s.report !== null)
  const rows = r.queries.predictRows + r.queries.gradientRows
  return {
    probe: 'sonde/audit',
    headline: `What an outsider learns from ${rows} queries (${r.capabilities.join(', ')}): ${ran.map((s) => s.report!.headline.replace(/\.$/, '')).join('; ') || 'nothing — every section failed'}.`,
    findings: r.sections.map((s) => `${s.title}: ${s.report !== null ? s.report.headline : s.note ?? 'skipped'}`),
    seed: r.seed,
    queries: r.queries,
    metrics: [
      { name: 'rows', value: rows, unit: 'rows' },
      ...r.sections.map((s) => ({ name: `${s.id} rows`, value: s.queries.predictRows + s.queries.gradientRows, unit: 'rows' })),
    ],
    tables: [
      {
        title: 'sections',
        columns: ['section', 'outcome', 'predict rows', 'gradient rows'],
        rows: r.sections.map((s) => [s.title, s.report !== null ? 'done' : s.note ?? 'skipped', s.queries.predictRows, s.queries.gradientRows]),
      },
    ],
    figures: [],
    sections: ran.map((s) => s.report!),
  }
}

const options = z
  .object({
    budget: z.number().int().min(100).default(20_000).describe('rows to spend in all, over every section'),
    data: z.union([schemas.examples(), schemas.matrix()]).optional().describe('real inputs: { x, y } labelled (enables error regions with ≥ 50 rows) or rows of numbers'),
    counterfactuals: z.number().int().min(0).max(100).default(3).describe('counterfactuals to find, one per source point'),
    regions: z.boolean().optional().describe('look for error regions (needs labelled data); default: when labelled data is given'),
  })
  .strict()

/**
 * {@link audit} as a probe: any oracle (what runs depends on its capabilities).
 *
 * @example
 * // fragment: needs an oracle
 * import { makeContext, runProbe, toPromise, type Oracle } from '@sonde/oracle'
 * import { auditProbe } from 'sonde'
 *
 * declare const oracle: Oracle
 * const r = await toPromise(runProbe(auditProbe, oracle, { budget: 20_000 }, makeContext({ seed: 1 })))
 */
export const auditProbe: Probe<Oracle, z.output<typeof options>, AuditResult> = {
  id: 'sonde/audit',
  summary: 'everything an outsider can learn within one budget: copy fidelity, counterfactuals, what explanations give away, systematic errors',
  requires: ['labels'],
  options,
  run: (oracle, o, ctx) =>
    audit(oracle, {
      budget: o.budget,
      seed: ctx.seed,
      counterfactuals: o.counterfactuals,
      ...(o.data !== undefined ? { data: o.data } : {}),
      ...(o.regions !== undefined ? { regions: o.regions } : {}),
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      progress: ctx.progress,
      log: ctx.log,
    }),
  report: auditReport,
}
