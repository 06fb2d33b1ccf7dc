import { noQueries, reportArray, reportNumber, type ProbeReport, type ReportFigure, type ReportTable } from '@sonde/oracle'
import type { InfluenceProbeResult } from './probe.js'

const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : String(v))
const round = (v: number, digits = 4): number | null => (Number.isFinite(v) ? Number(v.toPrecision(digits)) : null)

/** Rows in [0, 1] for an image figure: as they are when already there, else rescaled by the data's range. */
const toUnit = (values: ArrayLike<number>): number[] => {
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < values.length; i++) {
    lo = Math.min(lo, values[i]!)
    hi = Math.max(hi, values[i]!)
  }
  const inUnit = lo >= 0 && hi <= 1
  const span = hi - lo
  return Array.from(values, (v) => {
    const u = inUnit ? v : span > 0 ? (v - lo) / span : 0
    return Number.isFinite(u) ? Number(u.toFixed(3)) : 0
  })
}

/**
 * One strip of images: the test row, then its helpful rows, then its harmful rows, a blank column between
 * images (value 1: white on the renderer's grey scale).
 */
const strip = (r: InfluenceProbeResult, a: number, h: number, w: number): ReportFigure => {
  const d = r.train.x.cols
  const rowsOf = [{ m: r.test.x, i: a }, ...Array.from(r.helpful[a]!, (j) => ({ m: r.train.x, i: j })), ...Array.from(r.harmful[a]!, (j) => ({ m: r.train.x, i: j }))]
  const all = new Float64Array(rowsOf.length * d)
  rowsOf.forEach(({ m, i }, k) => all.set(m.data.subarray(i * d, (i + 1) * d), k * d))
  const unit = toUnit(all)
  const width = rowsOf.length * (w + 1) - 1
  const pixels = new Array<number>(width * h).fill(1)
  rowsOf.forEach((_, k) => {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) pixels[y * width + k * (w + 1) + x] = unit[k * d + y * w + x]!
  })
  return {
    kind: 'image',
    title: `Test row ${a} (label ${r.test.y[a]}, model says ${r.predicted[a]}), then its ${r.helpful[a]!.length} most helpful and ${r.harmful[a]!.length} most harmful training rows`,
    width,
    height: h,
    channels: 1,
    pixels,
  }
}

/**
 * The JSON report of an influence run: the most influential training rows first, then how far to trust the
 * scores (solver residual, the model's stationarity), a table per test point and images when rows are images.
  *
  * @example
  * // fragment: a finished run of influenceProbe
  * import { influenceReport, type InfluenceProbeResult } from '@sonde/influence'
  *
  * declare const result: InfluenceProbeResult
  * const { headline } = influenceReport(result) // = influenceProbe.report(result)
  */
export const influenceReport = (r: InfluenceProbeResult): ProbeReport => {
  const n = r.train.x.rows
  const t = r.test.x.rows
  const top = (a: number, dir: 'helpful' | 'harmful'): string => {
    const list = dir === 'helpful' ? r.helpful[a]! : r.harmful[a]!
    if (list.length === 0) return 'none'
    const j = list[0]!
    return `training row ${j} (label ${r.train.y[j]}, score ${fmt(r.scores.data[a * n + j]!)})`
  }
  const called = (a: number): string =>
    r.testLabels === 'predicted' ? `the model's own call ${r.test.y[a]}` : `label ${r.test.y[a]}${r.predicted[a] !== r.test.y[a] ? `, which the model calls ${r.predicted[a]}` : ''}`
  const headline =
    t === 1
      ? `For the test point (${called(0)}), the most helpful training row is ${top(0, 'helpful')} and the most harmful is ${top(0, 'harmful')}.`
      : `Over ${t} test points, test point 0 (${called(0)}) leans most on ${top(0, 'helpful')} and is hurt most by ${top(0, 'harmful')}.`
  const worst = r.solves.reduce((m, s) => Math.max(m, Number.isFinite(s.relativeResidual) ? s.relativeResidual : 0), 0)
  const iterations = r.solves.reduce((m, s) => m + s.iterations, 0)
  const findings: string[] = []
  for (let a = 1; a < Math.min(t, 10); a++) findings.push(`Test point ${a} (${called(a)}): most helpful ${top(a, 'helpful')}; most harmful ${top(a, 'harmful')}.`)
  for (let a = 0; a < Math.min(t, 10); a++) {
    const harmful = r.harmful[a]!
    const sameLabel = Array.from(harmful).filter((j) => r.train.y[j] === r.test.y[a]).length
    if (harmful.length > 0) {
      findings.push(
        `Of the ${harmful.length} most harmful training rows for test point ${a}, ${sameLabel} carry its label ${r.test.y[a]} and ${harmful.length - sameLabel} another (often the class it is confused with); inspect them first for wrong labels.`,
      )
    }
  }
  findings.push(
    `Scores are the predicted change in the test loss if a training row were removed and the model refit (positive: the row helps). Solved by ${r.method}${r.method === 'exact' ? '' : ` in ${iterations} iteration(s)`}, worst relative residual ${fmt(worst)}, damping ${r.damping}.`,
  )
  findings.push(
    r.gradientNorm <= 1e-4
      ? `The model sits at an optimum of its training objective (‖∇F‖ = ${fmt(r.gradientNorm)}), as influence functions assume.`
      : `The model is not at an optimum of its training objective (‖∇F‖ = ${fmt(r.gradientNorm)}): influence assumes one, so treat the scores as approximate (refit, or add damping).`,
  )
  if (r.trainLabels === 'oracle') findings.push(`The ${n} training labels were bought from the oracle (${r.queries.predictRows} rows in all): the scores explain the oracle's behaviour through a ${r.model} model fitted to it.`)
  if (r.testLabels === 'predicted') findings.push("No test labels were given: the loss explained is that of the model's own prediction.")
  const tables: ReportTable[] = Array.from({ length: Math.min(t, 10) }, (_, a) => ({
    title: `Most helpful and most harmful training rows for test point ${a} (${called(a)})`,
    columns: ['direction', 'rank', 'training row', 'label', 'score (Δ test loss if removed)'],
    rows: [
      ...Array.from(r.helpful[a]!, (j, k) => ['helpful', k + 1, j, r.train.y[j]!, round(r.scores.data[a * n + j]!)]),
      ...Array.from(r.harmful[a]!, (j, k) => ['harmful', k + 1, j, r.train.y[j]!, round(r.scores.data[a * n + j]!)]),
    ],
  }))
  const figures: ReportFigure[] = []
  if (r.imageShape !== undefined) for (let a = 0; a < Math.min(t, 5); a++) figures.push(strip(r, a, r.imageShape[0], r.imageShape[1]))
  figures.push({ kind: 'histogram', title: 'Influence of every training row on test point 0', xLabel: 'score (Δ test loss if removed)', values: reportArray(r.scores.data.subarray(0, n), 3).map((v) => v ?? 0) })
  return {
    probe: 'sonde/influence',
    headline,
    findings,
    seed: r.seed,
    queries: r.queries ?? noQueries,
    metrics: [
      { name: 'training rows', value: n },
      { name: 'test points', value: t },
      { name: 'parameters', value: r.numParams, description: 'p, the size of the Hessian' },
      { name: 'model', value: r.model },
      { name: 'method', value: r.method },
      { name: 'damping', value: reportNumber(r.damping) },
      { name: 'worst relative residual', value: reportNumber(worst), description: '‖(H + λI)s − ∇ℓ‖ / ‖∇ℓ‖ over the s_test solves' },
      { name: 'solver iterations', value: iterations },
      { name: 'Hessian-vector products', value: r.hessianVectorProducts },
      { name: 'gradient norm at θ̂', value: reportNumber(r.gradientNorm), description: '‖∇F‖ on the training set; influence assumes 0' },
      { name: 'test loss (point 0)', value: reportNumber(r.testLosses[0] ?? Number.NaN), unit: 'nats' },
      ...(r.scale !== undefined ? [{ name: 'LiSSA scale', value: reportNumber(r.scale) }] : []),
    ],
    tables,
    figures,
  }
}
