import { reportNumber, type ProbeReport, type ReportFigure, type ReportMetric, type ReportTable, type ReportValue } from '@sonde/oracle'
import { LogisticRegression, type SoftmaxRegression } from '@sonde/models'
import type { LinearExtractionProbeResult, GradientMatchingProbeResult } from './probe.js'
import type { ReluExtraction } from './relu.js'

// The JSON views of the three probes' results, for the CLI's HTML report and the docs: the answer first.

const sig = (v: number, digits = 3): number | null => (Number.isFinite(v) ? Number(v.toPrecision(digits)) : null)
const sci = (v: number): string => (Number.isFinite(v) ? v.toExponential(1) : String(v))
const pct = (v: number): string => `${(100 * v).toFixed(1)} %`
const plural = (n: number, one: string, many = `${one}s`): string => `${n.toLocaleString('en')} ${n === 1 ? one : many}`
const metric = (name: string, value: number | string | boolean, unit?: string, description?: string): ReportMetric => ({
  name,
  value: typeof value === 'number' ? reportNumber(value) : value,
  ...(unit !== undefined ? { unit } : {}),
  ...(description !== undefined ? { description } : {}),
})
const queryMetrics = (q: { predictRows: number; gradientRows: number; calls: number; cacheHits: number }): ReportMetric[] => [
  metric('gradient rows', q.gradientRows, 'rows', 'gradient explanations the oracle answered'),
  metric('value rows', q.predictRows, 'rows', 'predictions (scores or labels) the oracle answered'),
  metric('oracle calls', q.calls, 'calls'),
  metric('cache hits', q.cacheHits, 'rows', 'rows a cache or journal under the oracle answered without the model'),
]

const norm = (xs: ArrayLike<number>, from = 0, to = xs.length): number => {
  let s = 0
  for (let i = from; i < to; i++) s += xs[i]! ** 2
  return Math.sqrt(s)
}

/** A weight vector as a grey image in [0, 1] (0.5 is zero), when the input is an image with one channel. */
const weightImage = (title: string, w: ArrayLike<number>, shape: readonly number[] | undefined): ReportFigure | undefined => {
  if (shape === undefined || !(shape.length === 2 || (shape.length === 3 && shape[2] === 1))) return undefined
  const [height, width] = shape as [number, number]
  let m = 0
  for (let i = 0; i < w.length; i++) m = Math.max(m, Math.abs(w[i]!))
  const pixels = Array.from({ length: height * width }, (_, i) => sig(m === 0 ? 0.5 : 0.5 + w[i]! / (2 * m), 3) ?? 0.5)
  return { kind: 'image', title, width, height, channels: 1, pixels }
}

/**
 * The report of {@link linearExtractionProbe}.
 *
 * @example
 * // fragment: a finished run of linearExtractionProbe
 * import { linearReport, type LinearExtractionProbeResult } from '@sonde/gradient-extraction'
 *
 * declare const result: LinearExtractionProbeResult
 * const report = linearReport(result) // = linearExtractionProbe.report(result): headline, metrics, a table per class
 */
export const linearReport = (r: LinearExtractionProbeResult): ProbeReport => {
  const m = r.model
  const logistic = m instanceof LogisticRegression
  const info = m.info
  const d = info.inputDim
  const k = logistic ? 1 : (m as SoftmaxRegression).weights.rows
  const weights = logistic ? (m as LogisticRegression).weights : (m as SoftmaxRegression).weights.data
  const biases = logistic ? [(m as LogisticRegression).bias] : Array.from((m as SoftmaxRegression).bias)
  const kind = logistic ? 'logistic regression' : `softmax regression with ${k} classes`
  const g = r.extractionQueries.gradientRows
  const v = r.extractionQueries.predictRows
  const cost = `${plural(g, 'gradient row')} and ${plural(v, 'value row')}`
  const ver = r.verification
  const exact = ver !== undefined && ver.agreement === 1 && ver.maxRelativeError <= 1e-6
  const headline =
    ver === undefined
      ? `The explanation API gave away a ${kind} over ${d} features with ${cost} (not checked: verifyPoints is 0).`
      : exact
        ? `The explanation API gave away the model exactly with ${cost}: a ${kind} over ${d} features, reproduced to ${sci(ver.maxRelativeError)} relative error at ${plural(ver.rows, 'random point')}.`
        : `The oracle is not linear: the ${kind} read from ${cost} agrees with it on ${pct(ver.agreement)} of ${plural(ver.rows, 'random point')} (max relative score error ${sci(ver.maxRelativeError)}) — try the ReLU extraction or gradient matching.`
  const findings = [
    'For a linear model every gradient explanation is a row of its weight matrix: serving gradients is publishing the weights.',
    ...(info.output === 'probabilities' ? ['From probabilities the biases are exact up to one common shift, which changes no probability and no prediction.'] : []),
    ...(ver !== undefined && !ver.scoresCompared ? ['Only labels were compared at the check points (the oracle and the copy reveal different kinds of scores).'] : []),
  ]
  const rows: ReportValue[][] = []
  for (let c = 0; c < Math.min(k, 50); c++) {
    let best = 0
    for (let j = 1; j < d; j++) if (Math.abs(weights[c * d + j]!) > Math.abs(weights[c * d + best]!)) best = j
    const name = info.classNames?.[logistic ? 1 : c] ?? String(logistic ? 1 : c)
    rows.push([name, sig(biases[c]!, 6), sig(norm(weights, c * d, (c + 1) * d), 6), best, sig(weights[c * d + best]!, 6)])
  }
  const tables: ReportTable[] = [
    { title: k > 50 ? 'The first 50 recovered classes' : logistic ? 'The recovered logit (class 1 against class 0)' : 'The recovered classes', columns: ['class', 'bias', '‖w‖₂', 'largest-weight feature', 'its weight'], rows },
  ]
  const figures: ReportFigure[] = []
  if (k > 1 && k <= 50) figures.push({ kind: 'bar', title: 'Norm of each recovered weight vector', yLabel: '‖w‖₂', bars: rows.map((row) => ({ label: String(row[0]), value: (row[2] as number | null) ?? 0 })) })
  for (let c = 0; c < Math.min(k, 10); c++) {
    const img = weightImage(`Recovered weights of class ${String(rows[c]![0])} (grey = 0)`, weights.subarray(c * d, (c + 1) * d), info.inputShape)
    if (img !== undefined) figures.push(img)
  }
  return {
    probe: 'sonde/gradient-extraction/linear',
    headline,
    findings,
    seed: r.seed,
    queries: r.queries,
    metrics: [
      metric('exact', exact, undefined, 'reproduced the oracle at every check point (label agreement 1, relative score error ≤ 1e-6)'),
      metric('parameters recovered', k * d + k, 'parameters'),
      metric('classes', logistic ? 2 : k),
      metric('features', d),
      ...(ver !== undefined
        ? [metric('check points', ver.rows, 'points'), metric('label agreement', ver.agreement, 'fraction'), metric('max relative score error', ver.maxRelativeError, 'relative')]
        : []),
      ...queryMetrics(r.queries),
    ],
    tables,
    figures,
  }
}

/**
 * The report of {@link reluExtractionProbe}.
 *
 * @example
 * // fragment: a finished extraction
 * import { reluReport, type ReluExtraction } from '@sonde/gradient-extraction'
 *
 * declare const result: ReluExtraction
 * const report = reluReport(result) // = reluExtractionProbe.report(result): headline, metrics, a table per hidden unit
 */
export const reluReport = (r: ReluExtraction): ProbeReport => {
  const m = r.model
  const h = m.hidden
  const d = m.info.inputDim
  const k = r.unitsPerLogit.length
  const g = r.queries.gradientRows
  const v = r.queries.predictRows
  const cost = v > 0 ? `${plural(g, 'gradient row')} and ${plural(v, 'value row')}` : plural(g, 'gradient row')
  const whole = r.strategy === 'whole-network'
  const per = k > 1 ? (whole ? ` shared by ${k} logits` : ` (${r.unitsPerLogit.join(' + ')} found across ${k} logits, merged to ${h})`) : ''
  const ver = r.verification
  const headline =
    ver === undefined
      ? `The explanation API gave away a two-layer ReLU network with ${plural(h, 'hidden unit')}${per} for ${cost} (not checked: verifyPoints is 0).`
      : `The explanation API gave away the model exactly with ${cost}: a two-layer ReLU network with ${plural(h, 'hidden unit')}${per}, reproduced to ${sci(ver.maxRelativeError)} relative error at ${plural(ver.points, 'random point')}.`
  const findings = [
    `The rows spent grow like h·log h and do not depend on the input dimension (d = ${d}); a value-only extraction needs on the order of h·d rows.`,
    'Units are recovered up to permutation and positive rescaling (the function is the same).',
    ...(k > 1 && whole ? [`The kinks were found once, with logit 0; each of the other ${k - 1} logits cost one gradient row per linear piece of the line.`] : []),
    ...(k > 1 && !whole ? [`Each logit was extracted on its own line; units that are positive multiples of one another were merged (${r.unitsFound} found, ${h} distinct).`] : []),
    ...(ver !== undefined ? [`Checked against ${ver.on === 'values' ? 'value queries of every logit' : 'gradient queries of every logit (no value queries in this mode)'} at random points; tolerance ${sci(ver.tolerance)}.`] : []),
    ...(r.lines > (whole ? 1 : k) ? [`${r.lines - (whole ? 1 : k)} extra random line(s) were walked (a line failed its checks).`] : []),
  ]
  const a = m.outputWeights.data
  const unitRows: ReportValue[][] = []
  for (let u = 0; u < Math.min(h, 64); u++) {
    const wn = norm(m.hiddenWeights.data, u * d, (u + 1) * d)
    let used = 0
    let largest = 0
    for (let c = 0; c < k; c++) {
      const x = a[c * h + u]!
      if (x !== 0) used++
      if (Math.abs(x) > Math.abs(largest)) largest = x
    }
    unitRows.push([u, used, sig(largest, 6), sig(wn, 6), sig(m.hiddenBias[u]!, 6), sig(wn === 0 ? 0 : -m.hiddenBias[u]! / wn, 4)])
  }
  const offsets = Array.from({ length: h }, (_, i) => {
    const wn = norm(m.hiddenWeights.data, i * d, (i + 1) * d)
    return sig(wn === 0 ? 0 : -m.hiddenBias[i]! / wn, 4) ?? 0
  })
  const figures: ReportFigure[] = []
  if (k > 1) figures.push({ kind: 'bar', title: whole ? 'Hidden units each logit uses' : 'Hidden units found per logit (before merging)', yLabel: 'units', bars: r.unitsPerLogit.map((c, i) => ({ label: m.info.classNames?.[i] ?? `logit ${i}`, value: c })) })
  if (h > 1) figures.push({ kind: 'histogram', title: 'Signed distance of each unit’s hyperplane from the origin (−b/‖w‖)', xLabel: 'distance', values: offsets })
  return {
    probe: 'sonde/gradient-extraction/relu',
    headline,
    findings,
    seed: r.seed,
    queries: r.queries,
    metrics: [
      metric('exact', ver !== undefined, undefined, 'verified at random points to the tolerance'),
      metric('hidden units', h, 'units'),
      metric('units found before merging', r.unitsFound, 'units'),
      metric('strategy', r.strategy),
      metric('logits', k),
      metric('input dimension', d),
      metric('parameters recovered', h * d + h + k * h + k, 'parameters'),
      metric('random lines walked', r.lines),
      ...(ver !== undefined ? [metric('check points', ver.points, 'points'), metric('max relative error at the check points', ver.maxRelativeError, 'relative')] : []),
      ...queryMetrics(r.queries),
    ],
    tables: [
      {
        title: h > 64 ? `The first 64 of ${h} recovered hidden units` : 'The recovered hidden units',
        columns: ['unit', 'logits using it', 'largest output weight', '‖w‖₂ (scaled by |a|)', 'bias', 'hyperplane offset −b/‖w‖'],
        rows: unitRows,
      },
    ],
    figures,
  }
}

/**
 * The report of {@link gradientMatchingProbe}.
 *
 * @example
 * // fragment: a finished run of gradientMatchingProbe
 * import { matchingReport, type GradientMatchingProbeResult } from '@sonde/gradient-extraction'
 *
 * declare const result: GradientMatchingProbeResult
 * const report = matchingReport(result) // = gradientMatchingProbe.report(result): headline (agreement), metrics, the loss curve
 */
export const matchingReport = (r: GradientMatchingProbeResult): ProbeReport => {
  const what = r.lambda > 0 ? `${r.fit} and gradient explanations` : `${r.fit} alone (no explanations, lambda 0)`
  const from = r.source === 'pool' ? 'pool points' : 'random points of the domain'
  const ev = r.evaluation
  const headline =
    ev === undefined
      ? `A copy was trained on the ${what} of ${plural(r.pointsQueried, r.source === 'pool' ? 'pool point' : 'random point')} (not evaluated: evaluationPoints is 0).`
      : `A copy trained on the ${what} of ${plural(r.pointsQueried, r.source === 'pool' ? 'pool point' : 'random point')} agrees with the model on ${pct(ev.agreement)} of ${plural(ev.rows, ev.source === 'domain' ? 'random point' : 'held-out pool row')}.`
  const last = r.losses[r.losses.length - 1]
  const step = Math.max(1, Math.ceil(r.losses.length / 200))
  const curve = r.losses.flatMap((l, i) => (i % step === 0 || i === r.losses.length - 1 ? [[i + 1, sig(l, 4) ?? 0] as const] : []))
  return {
    probe: 'sonde/gradient-extraction/gradient-matching',
    headline,
    findings: [
      `The copy is a ReLU MLP (hidden ${JSON.stringify(r.hidden)}) trained on ${from}${r.lambda > 0 ? `, matching the oracle's logit gradients with weight λ = ${r.lambda}` : ''}.`,
      ...(r.lambda > 0 ? ['Gradient explanations multiply what each query teaches a copier: compare with lambda 0 at the same budget.'] : []),
      ...(ev !== undefined && ev.source === 'domain' ? ['Agreement was measured on random points of the domain, which may lie far from real inputs; pass a pool to measure on held-out data.'] : []),
    ],
    seed: r.seed,
    queries: r.queries,
    metrics: [
      ...(ev !== undefined ? [metric('agreement', ev.agreement, 'fraction', 'the copy and the oracle give the same label'), metric('evaluation points', ev.rows, 'points')] : []),
      ...(ev !== undefined && ev.scoresCompared ? [metric('max relative score error', ev.maxRelativeError, 'relative')] : []),
      metric('points queried', r.pointsQueried, 'points'),
      metric('epochs', r.losses.length),
      ...(last !== undefined ? [metric('final training loss', last)] : []),
      metric('lambda', r.lambda),
      ...queryMetrics(r.queries),
    ],
    tables: [],
    figures: r.losses.length > 1 ? [{ kind: 'line', title: 'Training loss of the copy', xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'loss', points: curve }] }] : [],
  }
}
