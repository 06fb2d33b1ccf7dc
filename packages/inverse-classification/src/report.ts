import { reportNumber, type ProbeReport, type ReportFigure, type ReportMetric, type ReportTable } from '@sonde/oracle'
import type { CounterfactualResult } from './counterfactual.js'

/** A feature counts as changed when it moved by more than this (float64 rounding of the solvers is ~1e-16). */
const CHANGED = 1e-9
/** The changed-features table lists at most this many features, largest change first. */
const TABLE_ROWS = 25

const fmt = (v: number, digits = 4): string => (Number.isFinite(v) ? (v === 0 ? '0' : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5 ? String(Number(v.toPrecision(digits))) : v.toExponential(digits - 1)) : String(v))
const round = (v: number, digits = 6): number | null => (Number.isFinite(v) ? Number(v.toPrecision(digits)) : null)
const queriesText = (n: number): string => `${n} ${n === 1 ? 'query' : 'queries'}`

/** x0 and x as images when D is a square (28 × 28 for 784) and every value lies in [0, 1]. */
const imageFigures = (x0: Float64Array, x: Float64Array): ReportFigure[] => {
  const d = x0.length
  const side = Math.round(Math.sqrt(d))
  if (d < 4 || side * side !== d) return []
  const inUnit = (xs: Float64Array): boolean => xs.every((v) => v >= 0 && v <= 1)
  if (!inUnit(x0) || !inUnit(x)) return []
  const image = (title: string, pixels: number[]): ReportFigure => ({ kind: 'image', title, width: side, height: side, channels: 1, pixels })
  return [
    image('x0 (the input)', Array.from(x0, (v) => round(v, 4)!)),
    image('the counterfactual', Array.from(x, (v) => round(v, 4)!)),
    image('the change (grey: unchanged, lighter: increased, darker: decreased)', Array.from(x, (v, i) => round(Math.min(1, Math.max(0, 0.5 + (v - x0[i]!) / 2)), 4)!)),
  ]
}

const finiteArray = (u: unknown, n?: number): boolean =>
  u instanceof Float64Array && (n === undefined || u.length === n) && u.every((v) => Number.isFinite(v))
const count = (u: unknown): boolean => typeof u === 'number' && Number.isSafeInteger(u) && u >= 0

/** What is wrong with a value passed as a result (a JavaScript caller's, or a hand-made one), if anything. */
const malformed = (r: CounterfactualResult): string | undefined => {
  if (r === null || typeof r !== 'object') return `it is ${String(r)}`
  if (!finiteArray(r.x0) || r.x0.length === 0) return 'x0 is not a non-empty Float64Array of finite numbers'
  if (!finiteArray(r.x, r.x0.length)) return 'x is not a Float64Array of finite numbers as long as x0'
  if (!Number.isFinite(r.distance) || !count(r.target) || !count(r.oracleLabel) || !count(r.labelAtSurrogateAnswer)) return 'distance, target or a label is not a finite number'
  const q = r.queries
  if (q === null || typeof q !== 'object' || ![q.predictRows, q.gradientRows, q.calls, q.cacheHits].every(count)) return 'queries is not a QueryUsage'
  if (!Number.isSafeInteger(r.seed)) return 'seed is not a safe integer'
  const s = r.surrogate
  if (s === null || typeof s !== 'object' || !Number.isFinite(s.distance) || !(s.activeClasses instanceof Int32Array) || !(s.multipliers instanceof Float64Array)) return 'surrogate is not an inverse-classification result'
  if (Array.from(s.activeClasses).some((c) => !(c >= 0 && c < s.multipliers.length))) return 'surrogate.activeClasses and surrogate.multipliers disagree'
  return undefined
}

/**
 * The JSON report of a counterfactual (what `inverseClassificationProbe.report` returns): the headline
 * answers first — the distance, and whether the oracle confirmed it or it had to be repaired — then the
 * certificate on the surrogate, the changed features (largest first), and images of x0 and the
 * counterfactual when x0 is a square image with values in [0, 1]. Only numbers, strings and arrays.
 * A value that is not a counterfactual result gets a report saying so (it never throws).
 *
 * @example
 * // fragment: a counterfactual found earlier
 * import { counterfactualReport, type CounterfactualResult } from '@sonde/inverse-classification'
 *
 * declare const result: CounterfactualResult
 * const report = counterfactualReport(result)
 * const { headline } = report // 'The oracle puts a point at L2 distance 2.31 from x0 in class 8: …'
 */
export const counterfactualReport = (r: CounterfactualResult, probe = 'sonde/inverse-classification'): ProbeReport => {
  const bad = malformed(r)
  if (bad !== undefined) {
    return { probe, headline: `Not a counterfactual result: ${bad}.`, findings: [], seed: 0, queries: { predictRows: 0, gradientRows: 0, calls: 0, cacheHits: 0 }, metrics: [], tables: [], figures: [] }
  }
  const d = r.x0.length
  const delta = Array.from(r.x, (v, i) => v - r.x0[i]!)
  const changed = delta.map((v, i) => ({ i, v })).filter(({ v }) => Math.abs(v) > CHANGED)
  changed.sort((a, b) => Math.abs(b.v) - Math.abs(a.v) || a.i - b.i)
  const linf = delta.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
  const l1 = delta.reduce((s, v) => s + Math.abs(v), 0)
  const n = r.queries.predictRows
  const t = r.target
  const s = r.surrogate

  const headline =
    r.distance === 0 && r.confirmed
      ? `x0 is already in class ${t}: the oracle confirms it (${queriesText(n)}); the counterfactual is x0 itself.`
      : r.confirmed && !r.repaired
        ? `The closest input to x0 in class ${t} is at L2 distance ${fmt(r.distance)}: exact on the surrogate, and the oracle confirms class ${t} (${queriesText(n)}).`
        : r.confirmed
          ? `The oracle puts a point at L2 distance ${fmt(r.distance)} from x0 in class ${t}: the surrogate's exact answer (distance ${fmt(s.distance)}) was class ${r.labelAtSurrogateAnswer} on the oracle, so it was repaired along the same ray (${queriesText(n)}).`
          : s.distance === 0
            ? `Not confirmed: the surrogate already puts x0 in class ${t}, but the oracle says class ${r.oracleLabel} (${queriesText(n)}); with no step there is no ray to repair along — ask for a margin, or use a closer surrogate.`
            : `Not confirmed: the surrogate's closest class-${t} input (L2 distance ${fmt(s.distance)}) is class ${r.oracleLabel} on the oracle, and the repair found no point the oracle puts in class ${t} within ${queriesText(n)}.`

  const findings: string[] = []
  if (changed.length > 0) {
    const top = changed[0]!
    findings.push(
      `${changed.length} of ${d} features changed (by more than ${CHANGED}); the largest change is feature ${top.i}: ${fmt(r.x0[top.i]!)} → ${fmt(r.x[top.i]!)}.`,
    )
  }
  findings.push(
    s.kktResidual <= 1e-8
      ? `The surrogate's answer is optimal on the surrogate: its KKT residual is ${fmt(s.kktResidual, 2)} (0 at the exact optimum), after ${s.iterations} solver iterations.`
      : `The surrogate's answer carries a KKT residual of ${fmt(s.kktResidual, 2)} (0 at the exact optimum).`,
  )
  if (s.activeClasses.length > 0) findings.push(`Competing classes that bind at the surrogate's answer: ${Array.from(s.activeClasses).join(', ')}.`)
  if (r.repaired && s.distance > 0) {
    findings.push(`The repaired point is ${fmt(r.distance / s.distance, 3)}× as far from x0 as the surrogate's answer: the surrogate and the oracle disagree near the decision boundary, so the surrogate's distance is not a certificate for the oracle.`)
  }
  if (!r.confirmed) findings.push('An unconfirmed answer is the surrogate\'s, reported as it is: a larger budget or maxScale, or a closer surrogate, may find one the oracle accepts.')

  const metrics: ReportMetric[] = [
    { name: 'distance', value: reportNumber(r.distance), unit: 'L2', description: '‖x − x0‖₂ of the answer' },
    { name: 'confirmed', value: r.confirmed, description: 'whether the oracle puts the answer in the target class' },
    { name: 'repaired', value: r.repaired, description: "whether the surrogate's exact answer had to be moved" },
    { name: 'oracle label', value: r.oracleLabel, description: 'the class the oracle gives the answer' },
    { name: 'target', value: t },
    { name: 'surrogate distance', value: reportNumber(s.distance), unit: 'L2', description: 'the exact optimum on the surrogate' },
    { name: 'KKT residual', value: reportNumber(s.kktResidual), description: "the certificate of the surrogate's answer: 0 at the exact optimum" },
    { name: 'solver iterations', value: s.iterations },
    { name: 'changed features', value: changed.length, unit: `of ${d}` },
    { name: 'largest change', value: reportNumber(linf), unit: 'L∞' },
    { name: 'total change', value: reportNumber(l1), unit: 'L1' },
    { name: 'oracle rows', value: n, unit: 'rows', description: 'predict rows spent on checking and repairing' },
    { name: 'oracle calls', value: r.queries.calls },
  ]

  const tables: ReportTable[] = [
    {
      title: changed.length > TABLE_ROWS ? `The ${TABLE_ROWS} largest changes (of ${changed.length} changed features)` : 'Changed features, largest change first',
      columns: ['feature', 'from', 'to', 'change'],
      rows: changed.slice(0, TABLE_ROWS).map(({ i, v }) => [i, round(r.x0[i]!), round(r.x[i]!), round(v)]),
    },
  ]
  if (s.activeClasses.length > 0) {
    tables.push({
      title: "Binding competitor classes at the surrogate's answer",
      columns: ['class', 'multiplier'],
      rows: Array.from(s.activeClasses, (c) => [c, round(s.multipliers[c]!)]),
    })
  }

  const images = imageFigures(r.x0, r.x)
  const figures: ReportFigure[] =
    images.length > 0
      ? images
      : changed.length > 0
        ? [{ kind: 'bar', title: 'The largest feature changes (x − x0)', yLabel: 'change', bars: changed.slice(0, TABLE_ROWS).map(({ i, v }) => ({ label: `feature ${i}`, value: round(v)! })) }]
        : []

  return { probe, headline, findings, seed: r.seed, queries: { ...r.queries }, metrics, tables, figures }
}
