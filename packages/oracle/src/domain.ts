import type { Matrix } from './matrix.js'
import type { Domain, OracleInfo } from './oracle.js'
import type { Rng } from './rng.js'

/**
 * The bounds of feature `j` in `info.domain`: `[-Infinity, Infinity]` when there is no domain.
 *
 * @example
 * import { featureBounds, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'demo', inputDim: 2, numClasses: 2, output: 'label', domain: { lower: 0, upper: Float64Array.of(1, 255) } }
 * const [lo, hi] = featureBounds(info, 1) // [0, 255]
 */
export const featureBounds = (info: OracleInfo, j: number): readonly [number, number] => {
  const dom = info.domain
  if (dom === undefined) return [-Infinity, Infinity]
  return [typeof dom.lower === 'number' ? dom.lower : dom.lower[j]!, typeof dom.upper === 'number' ? dom.upper : dom.upper[j]!]
}

/**
 * `rows` random valid queries for an oracle: uniform where a feature's bounds are both finite,
 * a half-normal step inside a single finite bound, standard normal otherwise.
 *
 * @example
 * import { createRng, randomQueries, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'demo', inputDim: 3, numClasses: 2, output: 'label', domain: { lower: 0, upper: 1 } }
 * const x = randomQueries(info, 100, createRng(1)) // 100×3, uniform in [0, 1]
 */
export const randomQueries = (info: OracleInfo, rows: number, rng: Rng): Matrix => {
  const d = info.inputDim
  const data = new Float64Array(rows * d)
  for (let k = 0; k < data.length; k++) {
    const [lo, hi] = featureBounds(info, k % d)
    data[k] =
      Number.isFinite(lo) && Number.isFinite(hi)
        ? lo + (hi - lo) * rng.next()
        : Number.isFinite(lo)
          ? lo + Math.abs(rng.normal())
          : Number.isFinite(hi)
            ? hi - Math.abs(rng.normal())
            : rng.normal()
  }
  return { rows, cols: d, data }
}

/**
 * Clip every value of `x` into `info.domain`, in place (returns `x`).
 *
 * @example
 * import { clipToDomain, fromRows, type OracleInfo } from '@sonde/oracle'
 *
 * const info: OracleInfo = { id: 'demo', inputDim: 2, numClasses: 2, output: 'label', domain: { lower: 0, upper: 1 } }
 * const clipped = clipToDomain(info, fromRows([[-0.2, 0.5], [0.9, 1.3]])) // rows [0, 0.5] and [0.9, 1]
 */
export const clipToDomain = (info: OracleInfo, x: Matrix): Matrix => {
  if (info.domain === undefined) return x
  for (let k = 0; k < x.data.length; k++) {
    const [lo, hi] = featureBounds(info, k % x.cols)
    const v = x.data[k]!
    x.data[k] = v < lo ? lo : v > hi ? hi : v
  }
  return x
}

/**
 * A domain as one lower and one upper bound per feature (`d` of each): a scalar bound is repeated, an
 * array kept as it is, a missing side is unbounded. The caller checks array lengths.
 *
 * @example
 * import { domainBounds } from '@sonde/oracle'
 *
 * const { lower, upper } = domainBounds({ lower: 0, upper: Float64Array.of(1, 255) }, 2) // lower [0, 0], upper [1, 255]
 */
export const domainBounds = (domain: Partial<Domain> | undefined, d: number): { readonly lower: Float64Array; readonly upper: Float64Array } => {
  const side = (b: number | Float64Array | undefined, fill: number): Float64Array => (b instanceof Float64Array ? b : new Float64Array(d).fill(b ?? fill))
  return { lower: side(domain?.lower, -Infinity), upper: side(domain?.upper, Infinity) }
}
