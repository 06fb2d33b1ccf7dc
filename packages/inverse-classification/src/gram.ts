import { dot } from './problem.js'

/**
 * M = W Wᵀ of a softmax model (K × K), computed on demand: a row when a solver first asks for it, the
 * whole matrix only when a solver needs all of it. Rows are kept, so later queries on the same prepared
 * model reuse them. A row costs one pass over W (K·D multiply-adds); the whole matrix K²·D/2.
 *
 * @example
 * import { either as E } from 'fp-ts'
 * import { SoftmaxRegression } from '@sonde/models'
 * import { prepareSoftmax } from '@sonde/inverse-classification'
 *
 * const model = SoftmaxRegression.random(784, 10, 1)
 * const prepared = prepareSoftmax(model) // cheap: nothing of M is computed yet
 * if (E.isRight(prepared)) {
 *   const m03 = prepared.right.gram.entry(0, 3) // w₀·w₃, from row 0 (computed now, then kept)
 *   console.log(m03, prepared.right.gram.rowsComputed())
 * }
 */
export interface GramCache {
  /** K, the number of classes. */
  readonly k: number
  /** Row a of M (K values: w_a·w_c for every class c), computed on first use and kept. Do not modify it. */
  readonly row: (a: number) => Float64Array
  /** M[a][b] = w_a·w_b (from row a). */
  readonly entry: (a: number, b: number) => number
  /** The whole M, row-major K × K; rows not yet computed are computed now (once). Do not modify it. */
  readonly full: () => Float64Array
  /** How many rows of M have been computed so far (K once `full()` ran). */
  readonly rowsComputed: () => number
  /**
   * Row a of M and W·x (K values, no bias) in one pass over W when the row is not kept yet; the product has the
   * bits of `dot` row by row.
   */
  readonly rowAndProduct: (a: number, x: Float64Array) => { readonly row: Float64Array; readonly product: Float64Array }
}

/** Rows kept beyond this many values are dropped oldest first (the full matrix, once asked for, is kept whole). */
const ROW_BUDGET = 1 << 24

/** A lazy M = WWᵀ for row-major weights `w` (k × d). */
export const gramCache = (w: Float64Array, k: number, d: number): GramCache => {
  const rows = new Map<number, Float64Array>()
  const keep = Math.max(16, Math.floor(ROW_BUDGET / Math.max(1, k)))
  let whole: Float64Array | undefined
  const computeRow = (a: number): Float64Array => {
    const r = new Float64Array(k)
    const ao = a * d
    for (let c = 0; c < k; c++) r[c] = dot(w, c * d, w, ao, d)
    return r
  }
  const row = (a: number): Float64Array => {
    if (whole !== undefined) return whole.subarray(a * k, (a + 1) * k)
    let r = rows.get(a)
    if (r === undefined) {
      r = computeRow(a)
      if (rows.size >= keep) rows.delete(rows.keys().next().value!)
      rows.set(a, r)
    }
    return r
  }
  const full = (): Float64Array => {
    if (whole !== undefined) return whole
    const g = new Float64Array(k * k)
    const done = new Uint8Array(k)
    for (const [a, r] of rows) {
      g.set(r, a * k)
      done[a] = 1
    }
    for (let a = 0; a < k; a++) {
      for (let b = a; b < k; b++) {
        // dot is symmetric to the bit (the same products summed in the same order), so a kept row agrees.
        if (done[a] === 1 && done[b] === 1) continue
        const s = done[a] === 1 ? g[a * k + b]! : done[b] === 1 ? g[b * k + a]! : dot(w, a * d, w, b * d, d)
        g[a * k + b] = s
        g[b * k + a] = s
      }
    }
    rows.clear()
    whole = g
    return g
  }
  const rowAndProduct = (a: number, x: Float64Array): { row: Float64Array; product: Float64Array } => {
    const product = new Float64Array(k)
    if (whole !== undefined || rows.has(a)) {
      for (let c = 0; c < k; c++) product[c] = dot(w, c * d, x, 0, d)
      return { row: row(a), product }
    }
    const r = new Float64Array(k)
    const ao = a * d
    for (let c = 0; c < k; c++) {
      // dot's four partial sums, for both vectors, over one read of w_c.
      const o = c * d
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      let u0 = 0
      let u1 = 0
      let u2 = 0
      let u3 = 0
      let i = 0
      for (; i + 3 < d; i += 4) {
        const w0 = w[o + i]!
        const w1 = w[o + i + 1]!
        const w2 = w[o + i + 2]!
        const w3 = w[o + i + 3]!
        s0 += w0 * w[ao + i]!
        s1 += w1 * w[ao + i + 1]!
        s2 += w2 * w[ao + i + 2]!
        s3 += w3 * w[ao + i + 3]!
        u0 += w0 * x[i]!
        u1 += w1 * x[i + 1]!
        u2 += w2 * x[i + 2]!
        u3 += w3 * x[i + 3]!
      }
      for (; i < d; i++) {
        s0 += w[o + i]! * w[ao + i]!
        u0 += w[o + i]! * x[i]!
      }
      r[c] = s0 + s1 + (s2 + s3)
      product[c] = u0 + u1 + (u2 + u3)
    }
    if (rows.size >= keep) rows.delete(rows.keys().next().value!)
    rows.set(a, r)
    return { row: r, product }
  }
  return {
    k,
    rowAndProduct,
    row,
    entry: (a, b) => row(a)[b]!,
    full,
    rowsComputed: () => (whole !== undefined ? k : rows.size),
  }
}
