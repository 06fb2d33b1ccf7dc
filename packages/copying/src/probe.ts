import { either as E } from 'fp-ts'
import { errors, reportNumber, schemas, z, type Oracle, type Probe, type ProbeError, type ProbeReport, type ReportFigure, type ReportMetric } from '@sonde/oracle'
import { copyClassifier, type CopyResult } from './copy.js'
import { softmaxCopy, treeCopy, type CopyFamily } from './families.js'
import { adaptive, balanced, boundary, gaussian, jitter, uniformBox, type Sampler } from './samplers.js'

const samplerNames = ['uniformBox', 'gaussian', 'jitter', 'balanced', 'boundary', 'adaptive'] as const

const options = z
  .object({
    budget: z
      .number()
      .int()
      .min(1)
      .max(100_000_000)
      .describe('Label queries to spend on the synthetic set: rows the model labels, split evenly over the rounds (at least one per round).'),
    sampler: z
      .enum(samplerNames)
      .default('jitter')
      .describe(
        "How the synthetic points are drawn: 'uniformBox' (uniform in the model's finite domain, data-free), 'gaussian' (per-feature normal fitted to reference), 'jitter' (reference points plus N(0, sigma²) noise), 'balanced' (jitter, then rebalanced towards rare classes), 'boundary' (jitter, then bisection between differently labelled pairs) or 'adaptive' (jitter, then the points the current copy is least sure of).",
      ),
    copy: z
      .enum(['softmax', 'mlp', 'tree'])
      .default('mlp')
      .describe("The copy's model family: 'softmax' (float64 softmax regression), 'mlp' (a tfjs ReLU network; needs @tensorflow/tfjs installed) or 'tree' (a CART decision tree, interpretable)."),
    sigma: z.number().positive().max(1e6).default(0.1).describe("Standard deviation of the jitter noise, in the model's input units (samplers jitter, balanced, boundary, adaptive)."),
    rounds: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(4)
      .describe("Sequential rounds: the budget is split evenly and the copy retrained after each; each round's copy is scored on the next round's fresh points, which gives the fidelity curve."),
    maxDepth: z.number().int().min(1).max(64).default(8).describe("Largest depth of the decision tree (copy 'tree')."),
    hidden: z.array(z.number().int().min(1).max(65_536)).max(16).default([128]).describe("Widths of the MLP's hidden layers (copy 'mlp')."),
    epochs: z.number().int().min(1).max(10_000).default(10).describe("Passes of training over the synthetic set (copy 'mlp')."),
    reference: schemas
      .matrix({ description: "Unlabelled real points (rows of numbers, one column per model input) that the data-driven samplers draw around; needed by every sampler but 'uniformBox'. Costs no queries." })
      .optional(),
    monitor: schemas
      .matrix({ description: "Real points on which each round's copy is compared with the model; costs one label query per row, beyond the budget." })
      .optional(),
  })
  .strict()

/** Options of {@link copyingProbe}, as decoded from JSON-like input. */
export type CopyingProbeOptions = z.output<typeof options>

/** The tfjs copy family, loaded only when asked for, so that loading `@sonde/copying` never loads tfjs. */
const loadMlp = async (o: CopyingProbeOptions): Promise<E.Either<ProbeError, CopyFamily>> => {
  try {
    const { mlpCopy } = await import('./tfjs.js')
    return E.right(mlpCopy({ hidden: o.hidden, epochs: o.epochs }))
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause)
    return E.left(
      errors.invalidOptions([{ path: 'options.copy', message: `'mlp' needs @tensorflow/tfjs, which could not be loaded (${why}): install it (npm install @tensorflow/tfjs), or choose copy 'tree' or 'softmax'` }]),
    )
  }
}

const samplerOf = (o: CopyingProbeOptions): Sampler => {
  const j = jitter({ sigma: o.sigma })
  switch (o.sampler) {
    case 'uniformBox':
      return uniformBox()
    case 'gaussian':
      return gaussian()
    case 'jitter':
      return j
    case 'balanced':
      return balanced(j, { sigma: o.sigma })
    case 'boundary':
      return boundary(j)
    case 'adaptive':
      return adaptive(j)
  }
}

const pct = (v: number): string => `${(100 * v).toFixed(1)} %`
const count = (n: number): string => n.toLocaleString('en-US')

/** The measure the headline leads with: the monitor if there is one, else the latest held-out estimate, else training agreement. */
const headlineOf = (r: CopyResult): { sentence: string; value: number; on: string } => {
  const rounds = r.diagnostics.rounds
  const last = rounds[rounds.length - 1]
  const family = r.family === 'mlp' ? 'an MLP' : `a ${r.family}`
  const spent = `from ${count(r.labelsBought)} label queries`
  if (last?.monitorAgreement !== undefined) {
    return { sentence: `${family} copy agrees with the model on ${pct(last.monitorAgreement)} of the ${count(r.monitorRows)} monitor points, ${spent}.`, value: last.monitorAgreement, on: 'monitor points' }
  }
  const heldOut = [...rounds].reverse().find((x) => x.heldOutAgreement !== undefined)
  if (heldOut !== undefined) {
    return {
      sentence: `${family} copy agrees with the model on ${pct(heldOut.heldOutAgreement!)} of fresh ${r.sampler} points it had not seen (measured after ${count(heldOut.labels)} labels), ${spent}.`,
      value: heldOut.heldOutAgreement!,
      on: 'fresh sampler points (held out)',
    }
  }
  const own = last?.trainingAgreement ?? 0
  return {
    sentence: `${family} copy agrees with the model on ${pct(own)} of its own ${count(last?.labels ?? 0)} training points, ${spent} (no held-out points: use rounds ≥ 2 or a monitor for an unbiased figure).`,
    value: own,
    on: 'training points (optimistic)',
  }
}

/**
 * The JSON view of a copy run (what `copyingProbe.report` returns): the headline fidelity — on the monitor if
 * there is one, else on the freshest held-out points, else (one round, no monitor) on the copy's own training
 * points, saying so — the fidelity curve per round, the rounds and the synthetic set's class balance.
 *
 * @example
 * // fragment: a label-only black box and unlabelled inputs like the ones it sees
 * import { toPromise, type Matrix, type Oracle } from '@sonde/oracle'
 * import { copyClassifier, copyingReport, jitter, treeCopy } from '@sonde/copying'
 *
 * declare const blackBox: Oracle
 * declare const reference: Matrix
 * const report = copyingReport(await toPromise(copyClassifier(blackBox, { sampler: jitter(), budget: 2000, rounds: 4, copy: treeCopy(), reference, seed: 1 })))
 * const headline = report.headline // 'A tree copy agrees with the model on 93.1 % of fresh jitter points it had not seen (measured after 1,500 labels), from 2,000 label queries.'
 */
export const copyingReport = (r: CopyResult): ProbeReport => {
  const rounds = r.diagnostics.rounds
  const last = rounds[rounds.length - 1]
  const head = headlineOf(r)
  const findings: string[] = []
  if (r.stopped !== undefined) {
    findings.push(`The run stopped in round ${r.stopped.round + 1} (${r.stopped.error._tag}: ${r.stopped.error.message}); the copy is trained on all ${count(r.labelsBought)} labels bought.`)
  }
  if (r.diagnostics.warning !== undefined) findings.push(`Warning: ${r.diagnostics.warning}.`)
  if (last !== undefined) findings.push(`On its own training points the final copy agrees on ${pct(last.trainingAgreement)} (optimistic: it was fitted to them).`)
  if (rounds.length > 1) {
    const curve = rounds.filter((x) => x.heldOutAgreement !== undefined).map((x) => `${pct(x.heldOutAgreement!)} after ${count(x.labels)}`)
    if (curve.length > 0) findings.push(`Held-out agreement by labels bought: ${curve.join(', ')}.`)
  }
  findings.push(
    `The ${count(r.diagnostics.synthetic.y.length)} synthetic points from the '${r.sampler}' sampler: the largest class (${r.diagnostics.dominantClass}) holds ${pct(r.diagnostics.dominantShare)}${r.diagnostics.missingClasses.length > 0 ? `; classes ${r.diagnostics.missingClasses.join(', ')} never appear` : ''}.`,
  )
  const details = Object.entries(r.trained.details)
  if (details.length > 0) findings.push(`The ${r.family} copy: ${details.map(([k, v]) => `${k} ${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`).join(', ')}.`)
  if (r.monitorRows > 0) findings.push(`The monitor cost ${count(r.monitorRows)} further label queries (outside the budget).`)

  const metrics: ReportMetric[] = [
    { name: 'fidelity', value: reportNumber(head.value), unit: 'agreement', description: `agreement of the copy with the model on ${head.on}` },
    { name: 'budget', value: r.budget, unit: 'labels', description: 'label queries asked for' },
    { name: 'labels bought', value: r.labelsBought, unit: 'labels', description: 'label queries spent on the synthetic set' },
    { name: 'monitor rows', value: r.monitorRows, unit: 'labels', description: 'label queries spent on the monitor' },
    { name: 'rounds', value: rounds.length },
    { name: 'training agreement', value: reportNumber(last?.trainingAgreement ?? Number.NaN), unit: 'agreement', description: "the final copy on its own training points" },
    { name: 'dominant class share', value: reportNumber(r.diagnostics.dominantShare), unit: 'share' },
    { name: 'sampler', value: r.sampler },
    { name: 'copy family', value: r.family },
    ...details.map(([k, v]): ReportMetric => ({ name: `copy ${k}`, value: typeof v === 'number' ? reportNumber(v) : v })),
  ]
  const series = [
    { name: 'held out (next round’s fresh points)', points: rounds.filter((x) => x.heldOutAgreement !== undefined).map((x) => [x.labels, x.heldOutAgreement!] as const) },
    { name: 'monitor points', points: rounds.filter((x) => x.monitorAgreement !== undefined).map((x) => [x.labels, x.monitorAgreement!] as const) },
    { name: 'own training points', points: rounds.map((x) => [x.labels, x.trainingAgreement] as const) },
  ].filter((s) => s.points.length > 0)
  const balance = Array.from(r.diagnostics.classBalance)
  const figures: ReportFigure[] = [
    { kind: 'line', title: 'Fidelity per round: agreement with the model against labels bought', xLabel: 'labels bought', yLabel: 'agreement with the model', series },
    { kind: 'bar', title: 'Class balance of the synthetic set', yLabel: 'share of the synthetic points', bars: balance.map((v, c) => ({ label: `class ${c}`, value: v })) },
  ]
  const n = r.diagnostics.synthetic.y.length
  return {
    probe: 'sonde/copying',
    headline: head.sentence.charAt(0).toUpperCase() + head.sentence.slice(1),
    findings,
    seed: r.seed,
    queries: r.queries,
    metrics,
    tables: [
      {
        title: 'Rounds',
        columns: ['round', 'labels bought', 'training agreement', 'held-out agreement', 'monitor agreement'],
        rows: rounds.map((x, i) => [i + 1, x.labels, reportNumber(x.trainingAgreement), x.heldOutAgreement === undefined ? null : reportNumber(x.heldOutAgreement), x.monitorAgreement === undefined ? null : reportNumber(x.monitorAgreement)]),
      },
      { title: 'Class balance of the synthetic set', columns: ['class', 'share', 'points'], rows: balance.map((v, c) => [c, reportNumber(v), Math.round(v * n)]) },
    ],
    figures,
  }
}

/**
 * Registry descriptor of {@link copyClassifier}, with samplers and families chosen by name: runs from
 * JSON options alone (`reference`/`monitor` as rows of numbers). Needs labels only, whatever the options.
 * `copy: 'mlp'` loads `@sonde/copying/tfjs` (and so tfjs) when it runs, never before.
 *
 * @example
 * // fragment: a label-only black box and unlabelled inputs as rows of numbers
 * import { makeContext, runProbe, toPromise, type Oracle } from '@sonde/oracle'
 * import { copyingProbe } from '@sonde/copying'
 *
 * declare const blackBox: Oracle
 * declare const reference: number[][]
 * const r = await toPromise(runProbe(copyingProbe, blackBox, { budget: 5000, sampler: 'jitter', copy: 'tree', reference }, makeContext({ seed: 1 })))
 * const report = copyingProbe.report(r)
 */
export const copyingProbe: Probe<Oracle, CopyingProbeOptions, CopyResult> = {
  id: 'sonde/copying',
  summary: 'copy a classifier from label queries into a model you control, and report how faithful the copy is and the synthetic sample it was copied from',
  requires: ['labels'],
  options,
  run: (oracle, o, ctx) => async () => {
    const family = o.copy === 'mlp' ? await loadMlp(o) : E.right(o.copy === 'softmax' ? softmaxCopy() : treeCopy({ maxDepth: o.maxDepth }))
    if (E.isLeft(family)) return family
    return copyClassifier(oracle, {
      sampler: samplerOf(o),
      budget: o.budget,
      copy: family.right,
      seed: ctx.seed,
      rounds: o.rounds,
      ...(o.reference !== undefined ? { reference: o.reference } : {}),
      ...(o.monitor !== undefined ? { monitor: o.monitor } : {}),
      ...(ctx.signal !== undefined ? { signal: ctx.signal } : {}),
      progress: ctx.progress,
      log: ctx.log,
    })()
  },
  report: copyingReport,
}
