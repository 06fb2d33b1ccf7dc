import { either as E } from 'fp-ts'
import { cholesky, choleskySubstitute } from '@sonde/linalg'

/**
 * min ½λᵀHλ + qᵀλ subject to λ ≥ 0, for a small symmetric positive semi-definite H (m × m,
 * row-major): an active-set method in the style of Lawson–Hanson. The passive set grows by the
 * most negative gradient component; each step solves the equality-constrained subproblem on the
 * passive set exactly (Cholesky) and steps back to stay feasible when a multiplier would turn
 * negative.
 *
 * H may be singular (dependent constraints: identical competitors, more competitors than free
 * features). When the entering index j is a combination of the passive ones, H·d = 0 for
 * d = e_j − Σ αₚ eₚ and the objective falls linearly along d (its slope is the violated gradient
 * component); the method moves along d until a passive multiplier reaches 0 and swaps it out. If no
 * passive multiplier limits the move, the objective is unbounded below and `unbounded` holds d: a
 * direction with d ≥ 0, H·d = 0 and (Hλ + q)ᵀd < 0.
 */
export interface NnqpResult {
  readonly lambda: Float64Array
  readonly iterations: number
  /** Whether the optimality conditions were met before the iteration cap (always true when `unbounded` is set). */
  readonly converged: boolean
  /** A direction of unbounded descent, when the problem has no minimum. */
  readonly unbounded?: Float64Array
}

/**
 * H given by its columns (H is symmetric, so column j is row j), for an H too large to form: the solver
 * asks only for the columns of the passive set and of the index entering it.
 */
export interface HessianColumns {
  /** Column j of H (m values); the solver reads it at once and does not keep it past the next call. */
  readonly column: (j: number) => Float64Array
}

/** H[a][b] for a dense row-major H or one given by columns (read from column b, the passive or entering one). */
type Entry = (a: number, b: number) => number
const entryOf = (h: Float64Array | HessianColumns, m: number): Entry =>
  h instanceof Float64Array ? (a, b) => h[a * m + b]! : (a, b) => h.column(b)[a]!

/** Cholesky solve of H[P,P] z = rhs; undefined when H[P,P] is (numerically) singular. */
const solvePassive = (h: Entry, passive: readonly number[], rhs: Float64Array): Float64Array | undefined => {
  const n = passive.length
  const a = new Float64Array(n * n)
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = h(passive[i]!, passive[j]!)
  // A pivot below 1e-12 of the largest diagonal entry means the constraint is (nearly) a combination of
  // those already passive.
  const l = cholesky({ rows: n, cols: n, data: a }, { pivotTolerance: 1e-12, inPlace: true })
  return E.isRight(l) ? choleskySubstitute(l.right.data, n, rhs) : undefined
}

/** The non-negative QP min ½λᵀHλ + qᵀλ, λ ≥ 0, by the active-set method described at the top of this file; `warm` starts from a previous λ. */
export const solveNnqp = (
  hessian: Float64Array | HessianColumns,
  q: Float64Array,
  m: number,
  warm?: Float64Array,
  maxIterations = 20 * m + 50,
): NnqpResult => {
  const h = entryOf(hessian, m)
  const lambda = warm?.slice() ?? new Float64Array(m)
  for (let j = 0; j < m; j++) if (!(lambda[j]! > 0)) lambda[j] = 0
  let passive: number[] = []
  for (let j = 0; j < m; j++) if (lambda[j]! > 0) passive.push(j)
  let qScale = 1
  for (let j = 0; j < m; j++) qScale = Math.max(qScale, Math.abs(q[j]!))
  const tol = 1e-13 * qScale
  let iterations = 0
  const gradientAt = (j: number): number => {
    let g = q[j]!
    for (const p of passive) g += h(j, p) * lambda[p]!
    return g
  }

  /**
   * Bring λ to the optimum of the current passive set, stepping back where it would go negative. Returns
   * `'singular'`, having changed nothing, when the passive set itself is dependent (its first solve fails);
   * every later set is a subset of an independent one.
   */
  const settle = (): 'settled' | 'singular' => {
    let first = true
    while (passive.length > 0 && iterations <= maxIterations) {
      const z = solvePassive(h, passive, Float64Array.from(passive, (p) => -q[p]!))
      iterations++
      if (z === undefined) return first ? 'singular' : 'settled'
      first = false
      if (z.every((v) => v > 0)) {
        passive.forEach((p, i) => (lambda[p] = z[i]!))
        return 'settled'
      }
      let alpha = 1
      passive.forEach((p, i) => {
        if (z[i]! <= 0) alpha = Math.min(alpha, lambda[p]! / (lambda[p]! - z[i]!))
      })
      passive.forEach((p, i) => (lambda[p] = lambda[p]! + alpha * (z[i]! - lambda[p]!)))
      passive = passive.filter((p) => {
        if (lambda[p]! <= 1e-300) {
          lambda[p] = 0
          return false
        }
        return true
      })
    }
    return 'settled'
  }

  /**
   * Index j enters but is dependent on the passive set: move along d = e_j − Σ αₚ eₚ (H·d = 0) until a
   * passive multiplier reaches zero, then swap it for j. Returns d when nothing limits the move.
   */
  const rayStep = (j: number): Float64Array | undefined => {
    const alpha = passive.length === 0 ? new Float64Array(0) : solvePassive(h, passive, Float64Array.from(passive, (p) => h(p, j)))!
    let step = Infinity
    let leaving = -1
    passive.forEach((p, i) => {
      if (alpha[i]! > 1e-12) {
        const s = lambda[p]! / alpha[i]!
        if (s < step) {
          step = s
          leaving = i
        }
      }
    })
    if (leaving < 0) {
      const d = new Float64Array(m)
      d[j] = 1
      passive.forEach((p, i) => (d[p] = -alpha[i]!))
      return d
    }
    passive.forEach((p, i) => (lambda[p] = Math.max(0, lambda[p]! - step * alpha[i]!)))
    lambda[j] = step
    const out = passive[leaving]!
    lambda[out] = 0
    passive = [...passive.filter((p) => p !== out && lambda[p]! > 0), j]
    return undefined
  }

  if (settle() === 'singular') {
    // A warm start may hold a dependent passive set: keep a maximal independent subset, in order.
    const kept: number[] = []
    for (const p of passive) {
      if (solvePassive(h, [...kept, p], new Float64Array(kept.length + 1)) !== undefined) kept.push(p)
      else lambda[p] = 0
    }
    passive = kept
    settle()
  }
  while (iterations <= maxIterations) {
    let best = -1
    let bestGrad = -tol
    for (let j = 0; j < m; j++) {
      if (passive.includes(j)) continue
      const g = gradientAt(j)
      if (g < bestGrad) {
        bestGrad = g
        best = j
      }
    }
    if (best < 0) return { lambda, iterations, converged: true }
    // One Cholesky tells both whether `best` is independent of the passive set and, if so, the new optimum.
    passive.push(best)
    if (settle() === 'singular') {
      passive.pop()
      const d = rayStep(best)
      if (d !== undefined) return { lambda, iterations, converged: true, unbounded: d }
      settle()
    }
  }
  return { lambda, iterations, converged: false }
}
