import type { QueryUsage } from './usage.js'

/** A value a report can hold: JSON's scalars. Non-finite numbers are `null` (JSON has no NaN). */
export type ReportValue = number | string | boolean | null

/** One named number (or word) in a report, e.g. `{ name: 'fidelity', value: 0.97, unit: 'agreement' }`. */
export interface ReportMetric {
  readonly name: string
  readonly value: ReportValue
  readonly unit?: string
  readonly description?: string
}

/** A table: column names and rows of values. */
export interface ReportTable {
  readonly title: string
  readonly columns: readonly string[]
  readonly rows: readonly (readonly ReportValue[])[]
}

/** One series of points of a line or scatter plot. */
export interface ReportSeries {
  readonly name: string
  readonly points: readonly (readonly [number, number])[]
}

/**
 * A figure as data the renderer draws (inline SVG in the CLI's HTML report, the docs' charts):
 * a line or scatter plot, a bar chart, a histogram of values, or a grey/RGB image with values in [0, 1]
 * (`pixels` row-major, `channels` values per pixel), or a PNG as base64.
 */
export type ReportFigure =
  | { readonly kind: 'line' | 'scatter'; readonly title: string; readonly xLabel: string; readonly yLabel: string; readonly series: readonly ReportSeries[] }
  | { readonly kind: 'bar'; readonly title: string; readonly yLabel: string; readonly bars: readonly { readonly label: string; readonly value: number }[] }
  | { readonly kind: 'histogram'; readonly title: string; readonly xLabel: string; readonly values: readonly number[] }
  | { readonly kind: 'image'; readonly title: string; readonly width: number; readonly height: number; readonly channels: 1 | 3; readonly pixels: readonly number[] }
  | { readonly kind: 'png'; readonly title: string; readonly base64: string }

/**
 * What a probe's `report(result)` returns: a JSON-serialisable account of a run — numbers, strings and
 * arrays only (no typed arrays, functions or models), so `JSON.parse(JSON.stringify(r))` equals `r` —
 * from which the CLI's HTML report and the docs are drawn.
 */
export interface ProbeReport {
  /** The probe's id. */
  readonly probe: string
  /** One sentence: the answer, first. */
  readonly headline: string
  /** Further findings, most important first. */
  readonly findings: readonly string[]
  readonly seed: number
  readonly queries: QueryUsage
  readonly metrics: readonly ReportMetric[]
  readonly tables: readonly ReportTable[]
  readonly figures: readonly ReportFigure[]
  /** The reports of the parts of a composed probe (an audit). */
  readonly sections?: readonly ProbeReport[]
}

/**
 * A finite number, or `null` for NaN and ±Infinity (JSON has neither).
 *
 * @example
 * import { reportNumber } from '@sonde/oracle'
 *
 * const missing = reportNumber(Infinity) // null
 */
export const reportNumber = (v: number): number | null => (Number.isFinite(v) ? v : null)

/**
 * An array of finite numbers from a typed array, rounded to `digits` significant digits when given
 * (reports hold what a person reads, not every bit).
 *
 * @example
 * import { reportArray } from '@sonde/oracle'
 *
 * const rounded = reportArray(Float64Array.of(1 / 3, 2, NaN), 3) // [0.333, 2, null]
 */
export const reportArray = (xs: ArrayLike<number>, digits?: number): (number | null)[] =>
  Array.from(xs, (v) => (Number.isFinite(v) ? (digits === undefined ? v : Number(v.toPrecision(digits))) : null))

/**
 * The first place where `value` is not JSON-safe (a typed array, a function, a non-finite number, a class
 * instance, `undefined` in an array), or `undefined` if it round-trips through `JSON.stringify` unchanged.
 *
 * @example
 * import { notJsonSafe } from '@sonde/oracle'
 *
 * const problem = notJsonSafe({ a: [1, 2], b: Float64Array.of(1) }) // 'report.b: a Float64Array'
 */
export const notJsonSafe = (value: unknown, path = 'report'): string | undefined => {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path}: ${value}`
  if (typeof value !== 'object') return `${path}: a ${typeof value}`
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (value[i] === undefined) return `${path}[${i}]: undefined`
      const bad = notJsonSafe(value[i], `${path}[${i}]`)
      if (bad !== undefined) return bad
    }
    return undefined
  }
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return `${path}: a ${(value as object).constructor?.name ?? 'class instance'}`
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue
    const bad = notJsonSafe(v, `${path}.${k}`)
    if (bad !== undefined) return bad
  }
  return undefined
}
